// Typed, validated plugin config for the header-only SDK, with no dependency:
// a small JSON reader (gourmet::JsonValue) and a reader of typed keys
// (gourmet::PluginConfig) whose errors name the key.
//
// The host hands a plugin its config subtree as JSON text ("{}" when absent).
// A plugin may parse it with any JSON library it likes; this header is there
// so that it does not have to:
//
//   static std::unique_ptr<Hello> Create(const std::string& json, std::string* error) {
//     gourmet::PluginConfig cfg(json);
//     Settings s;
//     s.greeting = cfg.String("greeting", "hello");
//     s.min_bytes = cfg.Int("min_bytes", 0, 0, 1 << 30);
//     s.timeout_s = cfg.Seconds("webhook.timeout", 2.0, 0.001, 60);  // "250ms", "2s", 2
//     if (!cfg.Finish(error)) return nullptr;  // "key 'min_bytes': expected ..."
//     return std::make_unique<Hello>(s);
//   }
//
// Finish() also refuses keys that nothing read, so a typo does not pass
// silently. Dotted keys address nested objects ("webhook.timeout").
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <locale>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gourmet {

// A parsed JSON document. Objects keep their members in document order.
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return bool_; }
  double as_double() const { return number_; }
  // True when the number is an integer that an int64_t holds exactly.
  bool is_integer() const { return type_ == Type::kNumber && integer_ok_; }
  int64_t as_int() const { return integer_; }
  const std::string& as_string() const { return string_; }

  // Array elements, or object values (in order; keys() gives their names).
  size_t size() const { return items_.size(); }
  const JsonValue& operator[](size_t i) const { return items_[i]; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<std::string>& keys() const { return keys_; }

  // The member `key` of an object, or nullptr.
  const JsonValue* Find(std::string_view key) const {
    if (type_ != Type::kObject) return nullptr;
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] == key) return &items_[i];
    }
    return nullptr;
  }

  // Parses a whole JSON text (RFC 8259; at most 64 levels of nesting). On
  // failure returns false and says what and where (byte offset) in *error.
  static bool Parse(std::string_view text, JsonValue* out, std::string* error) {
    Parser p{text, 0, {}};
    *out = JsonValue();
    p.SkipSpace();
    if (!p.Value(out, 0)) {
      if (error) *error = p.error;
      return false;
    }
    p.SkipSpace();
    if (p.pos != text.size()) {
      if (error) *error = "unexpected text after the JSON value at offset " + std::to_string(p.pos);
      return false;
    }
    return true;
  }

  // A short rendering for error messages (strings quoted, containers elided).
  std::string Describe() const {
    switch (type_) {
      case Type::kNull:
        return "null";
      case Type::kBool:
        return bool_ ? "true" : "false";
      case Type::kNumber: {
        if (integer_ok_) return std::to_string(integer_);
        std::ostringstream o;
        o.imbue(std::locale::classic());
        o << number_;
        return o.str();
      }
      case Type::kString:
        return "\"" + (string_.size() > 64 ? string_.substr(0, 61) + "..." : string_) + "\"";
      case Type::kArray:
        return "a list";
      case Type::kObject:
        return "an object";
    }
    return "?";
  }

 private:
  struct Parser {
    std::string_view in;
    size_t pos;
    std::string error;

    bool Fail(const std::string& what) {
      error = what + " at offset " + std::to_string(pos);
      return false;
    }
    void SkipSpace() {
      while (pos < in.size() &&
             (in[pos] == ' ' || in[pos] == '\t' || in[pos] == '\n' || in[pos] == '\r')) {
        ++pos;
      }
    }
    bool Literal(std::string_view word) {
      if (in.substr(pos, word.size()) != word) return Fail("invalid literal");
      pos += word.size();
      return true;
    }
    bool Value(JsonValue* v, int depth) {
      if (depth > 64) return Fail("nesting deeper than 64 levels");
      if (pos >= in.size()) return Fail("unexpected end of input");
      const char c = in[pos];
      if (c == '{') return Object(v, depth);
      if (c == '[') return Array(v, depth);
      if (c == '"') {
        v->type_ = Type::kString;
        return String(&v->string_);
      }
      if (c == 't' || c == 'f') {
        v->type_ = Type::kBool;
        v->bool_ = c == 't';
        return Literal(c == 't' ? "true" : "false");
      }
      if (c == 'n') return Literal("null");
      if (c == '-' || (c >= '0' && c <= '9')) return Number(v);
      return Fail(std::string("unexpected character '") + c + "'");
    }
    bool Object(JsonValue* v, int depth) {
      v->type_ = Type::kObject;
      ++pos;  // '{'
      SkipSpace();
      if (pos < in.size() && in[pos] == '}') {
        ++pos;
        return true;
      }
      for (;;) {
        SkipSpace();
        if (pos >= in.size() || in[pos] != '"') return Fail("expected a member name");
        std::string key;
        if (!String(&key)) return false;
        for (const std::string& k : v->keys_) {
          if (k == key) return Fail("duplicate member \"" + key + "\"");
        }
        SkipSpace();
        if (pos >= in.size() || in[pos] != ':') return Fail("expected ':'");
        ++pos;
        SkipSpace();
        JsonValue member;
        if (!Value(&member, depth + 1)) return false;
        v->keys_.push_back(std::move(key));
        v->items_.push_back(std::move(member));
        SkipSpace();
        if (pos < in.size() && in[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos < in.size() && in[pos] == '}') {
          ++pos;
          return true;
        }
        return Fail("expected ',' or '}'");
      }
    }
    bool Array(JsonValue* v, int depth) {
      v->type_ = Type::kArray;
      ++pos;  // '['
      SkipSpace();
      if (pos < in.size() && in[pos] == ']') {
        ++pos;
        return true;
      }
      for (;;) {
        SkipSpace();
        JsonValue item;
        if (!Value(&item, depth + 1)) return false;
        v->items_.push_back(std::move(item));
        SkipSpace();
        if (pos < in.size() && in[pos] == ',') {
          ++pos;
          continue;
        }
        if (pos < in.size() && in[pos] == ']') {
          ++pos;
          return true;
        }
        return Fail("expected ',' or ']'");
      }
    }
    static void AppendUtf8(uint32_t cp, std::string* out) {
      if (cp < 0x80) {
        out->push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
    bool Hex4(uint32_t* cp) {
      if (in.size() - pos < 4) return Fail("truncated \\u escape");
      uint32_t v = 0;
      for (int i = 0; i < 4; ++i) {
        const char h = in[pos++];
        v <<= 4;
        if (h >= '0' && h <= '9') {
          v |= h - '0';
        } else if (h >= 'a' && h <= 'f') {
          v |= h - 'a' + 10;
        } else if (h >= 'A' && h <= 'F') {
          v |= h - 'A' + 10;
        } else {
          return Fail("bad \\u escape");
        }
      }
      *cp = v;
      return true;
    }
    bool String(std::string* out) {
      ++pos;  // opening quote
      for (;;) {
        if (pos >= in.size()) return Fail("unterminated string");
        const unsigned char c = static_cast<unsigned char>(in[pos]);
        if (c == '"') {
          ++pos;
          return true;
        }
        if (c < 0x20) return Fail("control character in string");
        if (c != '\\') {
          out->push_back(static_cast<char>(c));
          ++pos;
          continue;
        }
        if (++pos >= in.size()) return Fail("unterminated string");
        const char e = in[pos++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out->push_back(e);
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            uint32_t cp = 0;
            if (!Hex4(&cp)) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
              uint32_t lo = 0;
              if (in.substr(pos, 2) != "\\u") return Fail("lone surrogate");
              pos += 2;
              if (!Hex4(&lo)) return false;
              if (lo < 0xDC00 || lo > 0xDFFF) return Fail("lone surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return Fail("lone surrogate");
            }
            AppendUtf8(cp, out);
            break;
          }
          default:
            return Fail("bad escape");
        }
      }
    }
    bool Number(JsonValue* v) {
      const size_t start = pos;
      bool integral = true;
      if (in[pos] == '-') ++pos;
      auto digits = [&] {
        const size_t from = pos;
        while (pos < in.size() && in[pos] >= '0' && in[pos] <= '9') ++pos;
        return pos - from;
      };
      if (pos < in.size() && in[pos] == '0') {
        ++pos;
      } else if (digits() == 0) {
        return Fail("bad number");
      }
      if (pos < in.size() && in[pos] == '.') {
        ++pos;
        integral = false;
        if (digits() == 0) return Fail("bad number");
      }
      if (pos < in.size() && (in[pos] == 'e' || in[pos] == 'E')) {
        ++pos;
        integral = false;
        if (pos < in.size() && (in[pos] == '+' || in[pos] == '-')) ++pos;
        if (digits() == 0) return Fail("bad number");
      }
      const std::string_view text = in.substr(start, pos - start);
      v->type_ = Type::kNumber;
      if (integral && text.size() - (text[0] == '-') <= 18) {  // fits in an int64_t
        int64_t n = 0;
        for (char d : text) {
          if (d != '-') n = n * 10 + (d - '0');
        }
        v->integer_ = text[0] == '-' ? -n : n;
        v->integer_ok_ = true;
        v->number_ = static_cast<double>(v->integer_);
        return true;
      }
      // Locale-independent, unlike strtod.
      std::istringstream s{std::string(text)};
      s.imbue(std::locale::classic());
      double d = 0;
      s >> d;
      if (s.fail()) d = text[0] == '-' ? -HUGE_VAL : HUGE_VAL;  // out of range
      v->number_ = d;
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
        v->integer_ = static_cast<int64_t>(d);
        v->integer_ok_ = true;
      }
      return true;
    }
  };

  Type type_ = Type::kNull;
  bool bool_ = false;
  bool integer_ok_ = false;
  int64_t integer_ = 0;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::string> keys_;  // object member names, parallel to items_
};

// Typed reads of a plugin's JSON config. Every read names its key in the
// error it records; the first error is what Finish() reports.
class PluginConfig {
 public:
  explicit PluginConfig(std::string_view json) {
    std::string error;
    if (!JsonValue::Parse(json.empty() ? std::string_view("{}") : json, &root_, &error)) {
      Fail("", "config is not valid JSON: " + error);
    } else if (!root_.is_object()) {
      Fail("", "config must be a JSON object, got " + root_.Describe());
    }
  }

  // True if `key` is present (and not null).
  bool Has(std::string_view key) {
    const JsonValue* v = Lookup(key);
    return v && !v->is_null();
  }

  std::string String(std::string_view key, std::string def) {
    const JsonValue* v = Read(key);
    if (!v) return def;
    if (!v->is_string()) {
      Expected(key, "a string", *v);
      return def;
    }
    return v->as_string();
  }

  int64_t Int(std::string_view key, int64_t def, int64_t min, int64_t max) {
    const JsonValue* v = Read(key);
    if (!v) return def;
    if (!IntIn(*v, min, max)) {
      Expected(key, Range("an integer", min, max), *v);
      return def;
    }
    return v->as_int();
  }

  double Number(std::string_view key, double def, double min, double max) {
    const JsonValue* v = Read(key);
    if (!v) return def;
    if (!v->is_number() || !(v->as_double() >= min && v->as_double() <= max)) {
      Expected(key, Range("a number", min, max), *v);
      return def;
    }
    return v->as_double();
  }

  bool Bool(std::string_view key, bool def) {
    const JsonValue* v = Read(key);
    if (!v) return def;
    if (!v->is_bool()) {
      Expected(key, "true or false", *v);
      return def;
    }
    return v->as_bool();
  }

  // A duration in seconds: a number of seconds, or a string with a unit:
  // "250ms", "30s", "5m", "1h" (as in the services' own config).
  double Seconds(std::string_view key, double def, double min, double max) {
    const JsonValue* v = Read(key);
    if (!v) return def;
    double s = -1;
    if (v->is_number()) {
      s = v->as_double();
    } else if (v->is_string()) {
      s = ParseDuration(v->as_string());
    }
    if (!(s >= min && s <= max)) {
      Expected(key, Range("a duration such as \"250ms\", \"30s\" or \"5m\"", min, max) + " s", *v);
      return def;
    }
    return s;
  }

  // A list of strings; a single string counts as a list of one.
  std::vector<std::string> StringList(std::string_view key) {
    const JsonValue* v = Read(key);
    if (!v) return {};
    if (v->is_string()) return {v->as_string()};
    if (!v->is_array()) {
      Expected(key, "a list of strings", *v);
      return {};
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        Expected(Index(key, i), "a string", (*v)[i]);
        return {};
      }
      out.push_back((*v)[i].as_string());
    }
    return out;
  }

  // A list of integers in [min, max]; a single integer counts as a list of one.
  std::vector<int64_t> IntList(std::string_view key, int64_t min, int64_t max) {
    const JsonValue* v = Read(key);
    if (!v) return {};
    if (v->is_number()) {
      if (!IntIn(*v, min, max)) {
        Expected(key, Range("an integer", min, max), *v);
        return {};
      }
      return {v->as_int()};
    }
    if (!v->is_array()) {
      Expected(key, "a list of integers", *v);
      return {};
    }
    std::vector<int64_t> out;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!IntIn((*v)[i], min, max)) {
        Expected(Index(key, i), Range("an integer", min, max), (*v)[i]);
        return {};
      }
      out.push_back((*v)[i].as_int());
    }
    return out;
  }

  // The objects of the list `key`, each as a config of its own whose errors
  // name "key[i].member"; fold each back with Merge() when done with it.
  std::vector<PluginConfig> ObjectList(std::string_view key) {
    const JsonValue* v = Read(key);
    if (!v) return {};
    if (!v->is_array()) {
      Expected(key, "a list of objects", *v);
      return {};
    }
    std::vector<PluginConfig> out;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_object()) {
        Expected(Index(key, i), "an object", (*v)[i]);
        return {};
      }
      out.push_back(PluginConfig((*v)[i], prefix_ + Index(key, i)));
    }
    return out;
  }

  // Records the first error of a config from ObjectList() (unknown keys
  // included) as this one's.
  void Merge(PluginConfig& nested) {
    std::string error;
    if (!nested.Finish(&error)) Fail("", error, /*raw=*/true);
  }

  // The raw value (nullptr if absent); the whole subtree counts as read, so
  // the caller validates it (and may call Fail() with a precise key).
  const JsonValue* Get(std::string_view key) { return Read(key); }

  // Records an error about `key` for checks done by the caller.
  void Fail(std::string_view key, const std::string& message) { Fail(key, message, false); }

  bool ok() const { return error_.empty(); }

  // True when every read succeeded and every key was read. Otherwise false,
  // with the first error (naming the key) in *error.
  bool Finish(std::string* error) {
    if (error_.empty()) CheckUnread(root_, "");
    if (error_.empty()) return true;
    if (error) *error = error_;
    return false;
  }

  // "5m" -> 300; a negative number when `text` is not a duration.
  static double ParseDuration(const std::string& text) {
    size_t i = 0;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == 0 || text.find('.') != text.rfind('.')) return -1;
    std::istringstream s(text.substr(0, i));
    s.imbue(std::locale::classic());
    double n = 0;
    s >> n;
    if (s.fail()) return -1;
    const std::string unit = text.substr(i);
    if (unit.empty() || unit == "s") return n;
    if (unit == "ms") return n / 1000;
    if (unit == "us") return n / 1e6;
    if (unit == "m") return n * 60;
    if (unit == "h") return n * 3600;
    return -1;
  }

 private:
  PluginConfig(const JsonValue& object, std::string name) : root_(object), name_(std::move(name)) {
    prefix_ = name_ + ".";
  }

  void Fail(std::string_view key, const std::string& message, bool raw) {
    if (!error_.empty()) return;
    std::string full = prefix_ + std::string(key);
    if (key.empty()) full = name_;
    error_ = raw || full.empty() ? message : "key '" + full + "': " + message;
  }

  const JsonValue* Lookup(std::string_view key) const {
    const JsonValue* v = &root_;
    while (v && !key.empty()) {
      const size_t dot = key.find('.');
      v = v->Find(key.substr(0, dot));
      key = dot == std::string_view::npos ? std::string_view() : key.substr(dot + 1);
    }
    return v;
  }

  // Looks `key` up and marks it read; absent or null gives nullptr.
  const JsonValue* Read(std::string_view key) {
    read_.insert(std::string(key));
    const JsonValue* v = Lookup(key);
    return v && !v->is_null() ? v : nullptr;
  }

  static bool IntIn(const JsonValue& v, int64_t min, int64_t max) {
    return v.is_integer() && v.as_int() >= min && v.as_int() <= max;
  }

  static std::string Index(std::string_view key, size_t i) {
    return std::string(key) + "[" + std::to_string(i) + "]";
  }

  void Expected(std::string_view key, const std::string& what, const JsonValue& got) {
    Fail(key, "expected " + what + ", got " + got.Describe());
  }

  static std::string Range(const std::string& what, double min, double max) {
    auto num = [](double d) {
      if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
      std::ostringstream o;
      o.imbue(std::locale::classic());
      o << d;
      return o.str();
    };
    const bool has_min = min > -std::numeric_limits<double>::max() / 2 && min > -9.2e18;
    const bool has_max = max < std::numeric_limits<double>::max() / 2 && max < 9.2e18;
    if (has_min && has_max) return what + " between " + num(min) + " and " + num(max);
    if (has_min) return what + " of at least " + num(min);
    if (has_max) return what + " of at most " + num(max);
    return what;
  }

  void CheckUnread(const JsonValue& v, const std::string& prefix) {
    if (!v.is_object()) return;
    for (size_t i = 0; i < v.keys().size() && error_.empty(); ++i) {
      const std::string key = prefix.empty() ? v.keys()[i] : prefix + "." + v.keys()[i];
      if (read_.count(key)) continue;
      if (v.items()[i].is_object() && HasReadBelow(key)) {
        CheckUnread(v.items()[i], key);
      } else {
        Fail(key, "unknown key");
      }
    }
  }

  bool HasReadBelow(const std::string& prefix) const {
    auto it = read_.lower_bound(prefix + ".");
    return it != read_.end() && it->compare(0, prefix.size() + 1, prefix + ".") == 0;
  }

  JsonValue root_;
  std::string name_;    // "rules[0]" for a nested config, "" for the root
  std::string prefix_;  // name_ + "." or ""
  std::set<std::string> read_;
  std::string error_;
};

}  // namespace gourmet
