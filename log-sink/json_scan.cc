#include "log-sink/json_scan.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace gourmet::sink::json {
namespace internal {

const char* SkipStringFast(const char* p, const char* end) {
  ++p;
  for (;;) {
    const char* q = static_cast<const char*>(std::memchr(p, '"', end - p));
    if (q == nullptr) return nullptr;
    // The quote is escaped when an odd number of backslashes precede it.
    const char* b = q;
    while (b > p && b[-1] == '\\') --b;
    if (((q - b) & 1) == 0) return q + 1;
    p = q + 1;
  }
}

}  // namespace internal

namespace {

using internal::SkipWs;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// p at the opening quote; checks escapes and control characters.
const char* SkipStringStrict(const char* p, const char* end) {
  ++p;
  while (p < end) {
    const unsigned char c = *p;
    if (c == '"') return p + 1;
    if (c < 0x20) return nullptr;
    if (c == '\\') {
      if (++p == end) return nullptr;
      switch (*p) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          ++p;
          break;
        case 'u':
          if (end - p < 5) return nullptr;
          for (int i = 1; i <= 4; ++i) {
            if (HexDigit(p[i]) < 0) return nullptr;
          }
          p += 5;
          break;
        default:
          return nullptr;
      }
      continue;
    }
    ++p;
  }
  return nullptr;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

const char* SkipNumberStrict(const char* p, const char* end) {
  if (p < end && *p == '-') ++p;
  if (p == end) return nullptr;
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && IsDigit(*p)) ++p;
  } else {
    return nullptr;
  }
  if (p < end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return nullptr;
    while (p < end && IsDigit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !IsDigit(*p)) return nullptr;
    while (p < end && IsDigit(*p)) ++p;
  }
  return p;
}

const char* SkipLiteral(const char* p, const char* end, const char* word, size_t n) {
  if (static_cast<size_t>(end - p) < n || std::memcmp(p, word, n) != 0) return nullptr;
  return p + n;
}

template <bool kStrict>
const char* ScanScalar(const char* p, const char* end, Value* out) {
  const char* start = p;
  const char* q = nullptr;
  switch (*p) {
    case '"':
      out->kind = Kind::kString;
      q = kStrict ? SkipStringStrict(p, end) : internal::SkipStringFast(p, end);
      break;
    case 't':
      out->kind = Kind::kTrue;
      q = SkipLiteral(p, end, "true", 4);
      break;
    case 'f':
      out->kind = Kind::kFalse;
      q = SkipLiteral(p, end, "false", 5);
      break;
    case 'n':
      out->kind = Kind::kNull;
      q = SkipLiteral(p, end, "null", 4);
      break;
    default:
      out->kind = Kind::kNumber;
      if (kStrict) {
        q = SkipNumberStrict(p, end);
      } else {
        q = p;
        while (q < end &&
               (IsDigit(*q) || *q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E'))
          ++q;
        if (q == p) q = nullptr;
      }
  }
  if (q != nullptr) out->text = std::string_view(start, q - start);
  return q;
}

const char* ScanContainerFast(const char* p, const char* end) {
  int depth = 0;
  while (p < end) {
    switch (*p) {
      case '"':
        p = internal::SkipStringFast(p, end);
        if (p == nullptr) return nullptr;
        continue;
      case '{':
      case '[':
        ++depth;
        break;
      case '}':
      case ']':
        if (--depth == 0) return p + 1;
        break;
    }
    ++p;
  }
  return nullptr;
}

// Iterative (an explicit stack), so deeply nested plugin output cannot
// exhaust the thread's stack during recovery.
const char* ScanContainerStrict(const char* p, const char* end) {
  std::vector<char> stack;
  stack.push_back(*p++);
  bool first = true;  // just after an opening bracket
  for (;;) {
    p = SkipWs(p, end);
    if (p == end) return nullptr;
    const char top = stack.back();
    const char close = top == '{' ? '}' : ']';
    if (first && *p == close) {
      ++p;
      stack.pop_back();
    } else {
      if (top == '{') {
        if (*p != '"') return nullptr;
        p = SkipStringStrict(p, end);
        if (p == nullptr) return nullptr;
        p = SkipWs(p, end);
        if (p == end || *p != ':') return nullptr;
        p = SkipWs(p + 1, end);
        if (p == end) return nullptr;
      }
      if (*p == '{' || *p == '[') {
        stack.push_back(*p++);
        first = true;
        continue;
      }
      Value v;
      p = ScanScalar<true>(p, end, &v);
      if (p == nullptr) return nullptr;
    }
    // After a value (or a closed container): a comma or closing brackets.
    for (;;) {
      if (stack.empty()) return p;
      p = SkipWs(p, end);
      if (p == end) return nullptr;
      const char c = stack.back() == '{' ? '}' : ']';
      if (*p == ',') {
        ++p;
        first = false;
        break;
      }
      if (*p != c) return nullptr;
      ++p;
      stack.pop_back();
    }
  }
}

}  // namespace

const char* ScanValueStrict(const char* p, const char* end, Value* out) {
  p = SkipWs(p, end);
  if (p == end) return nullptr;
  if (*p == '{' || *p == '[') {
    const char* start = p;
    out->kind = *p == '{' ? Kind::kObject : Kind::kArray;
    const char* q = ScanContainerStrict(p, end);
    if (q != nullptr) out->text = std::string_view(start, q - start);
    return q;
  }
  return ScanScalar<true>(p, end, out);
}

const char* ScanValueFast(const char* p, const char* end, Value* out) {
  p = SkipWs(p, end);
  if (p == end) return nullptr;
  if (*p == '{' || *p == '[') {
    const char* start = p;
    out->kind = *p == '{' ? Kind::kObject : Kind::kArray;
    const char* q = ScanContainerFast(p, end);
    if (q != nullptr) out->text = std::string_view(start, q - start);
    return q;
  }
  return ScanScalar<false>(p, end, out);
}

bool IsObject(std::string_view line) {
  const char* end = line.data() + line.size();
  Value v;
  const char* p = ScanValueStrict(line.data(), end, &v);
  return p != nullptr && v.kind == Kind::kObject && SkipWs(p, end) == end;
}

bool IsValue(std::string_view text) {
  const char* end = text.data() + text.size();
  Value v;
  const char* p = ScanValueStrict(text.data(), end, &v);
  return p != nullptr && SkipWs(p, end) == end;
}

bool KeyEquals(std::string_view raw_key, std::string_view name) {
  if (raw_key.find('\\') == std::string_view::npos) return raw_key == name;
  std::string decoded;
  const std::string token = "\"" + std::string(raw_key) + "\"";
  return DecodeString(token, &decoded) && decoded == name;
}

namespace {
void AppendUtf8(uint32_t cp, std::string* out) {
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

bool Hex4(const char* p, const char* end, uint32_t* v) {
  if (end - p < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = HexDigit(p[i]);
    if (d < 0) return false;
    *v = *v << 4 | d;
  }
  return true;
}
}  // namespace

bool DecodeString(std::string_view token, std::string* out) {
  out->clear();
  if (token.size() < 2 || token.front() != '"' || token.back() != '"') return false;
  const char* p = token.data() + 1;
  const char* end = token.data() + token.size() - 1;
  out->reserve(end - p);
  while (p < end) {
    if (*p != '\\') {
      out->push_back(*p++);
      continue;
    }
    if (++p == end) return false;
    switch (*p++) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '/':
        out->push_back('/');
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
        uint32_t cp;
        if (!Hex4(p, end, &cp)) return false;
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
          uint32_t lo;
          if (Hex4(p + 2, end, &lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
          }
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

std::string_view StringContent(std::string_view token, std::string* scratch) {
  if (token.size() < 2) return {};
  const std::string_view raw = token.substr(1, token.size() - 2);
  if (raw.find('\\') == std::string_view::npos) return raw;
  if (!DecodeString(token, scratch)) return raw;
  return *scratch;
}

bool ParseNumber(std::string_view token, double* out) {
  const char* b = token.data();
  const char* e = b + token.size();
  if (b < e && *b == '+') return false;
  const auto r = std::from_chars(b, e, *out);
  return r.ec == std::errc() && r.ptr == e;
}

bool ParseMicros(std::string_view token, int64_t* us) {
  const char* p = token.data();
  const char* end = p + token.size();
  bool neg = false;
  if (p < end && *p == '-') {
    neg = true;
    ++p;
  }
  if (p == end || !IsDigit(*p)) return false;
  int64_t secs = 0;
  int digits = 0;
  while (p < end && IsDigit(*p)) {
    if (++digits > 12) break;  // beyond year 33658: let the double path decide
    secs = secs * 10 + (*p++ - '0');
  }
  int64_t frac = 0;
  int frac_digits = 0;
  bool exact = digits <= 12;
  if (exact && p < end && *p == '.') {
    ++p;
    while (p < end && IsDigit(*p) && frac_digits < 6) {
      frac = frac * 10 + (*p++ - '0');
      ++frac_digits;
    }
    if (p < end) exact = false;
  } else if (p < end) {
    exact = false;
  }
  if (exact) {
    if (frac_digits == 0 && token.back() == '.') return false;
    for (int i = frac_digits; i < 6; ++i) frac *= 10;
    *us = (secs * 1000000 + frac) * (neg ? -1 : 1);
    return true;
  }
  double d;
  if (!ParseNumber(token, &d) || !std::isfinite(d) || std::fabs(d) > 9.2e12) return false;
  *us = static_cast<int64_t>(std::llround(d * 1e6));
  return true;
}

bool ReadLineKeys(std::string_view line, LineKeys* keys) {
  const char* p = line.data();
  const char* end = p + line.size();
  keys->ts_us = 0;
  keys->uid = keys->community_id = std::string_view();
  p = SkipWs(p, end);
  if (p == end || *p != '{') return false;
  p = SkipWs(p + 1, end);
  bool have_uid = false;
  if (p < end && *p == '}') return false;
  for (;;) {
    if (p == end || *p != '"') return false;
    const char* key_end = SkipStringStrict(p, end);
    if (key_end == nullptr) return false;
    const std::string_view key(p + 1, key_end - p - 2);
    p = SkipWs(key_end, end);
    if (p == end || *p != ':') return false;
    Value v;
    p = ScanValueStrict(p + 1, end, &v);
    if (p == nullptr) return false;
    if (key == "uid" && v.kind == Kind::kString) {
      keys->uid = StringContent(v.text, &keys->uid_storage);
      have_uid = true;
    } else if (key == "community_id" && v.kind == Kind::kString) {
      keys->community_id = StringContent(v.text, &keys->community_id_storage);
    } else if (key == "ts" && v.kind == Kind::kNumber) {
      if (!ParseMicros(v.text, &keys->ts_us)) return false;
    }
    p = SkipWs(p, end);
    if (p == end) return false;
    if (*p == '}') {
      return have_uid && SkipWs(p + 1, end) == end;
    }
    if (*p != ',') return false;
    p = SkipWs(p + 1, end);
  }
}

}  // namespace gourmet::sink::json
