// Reads JSON text in place, without building a tree: walks the members of a
// log line, finds the values at a dotted path, decodes and compares scalar
// tokens, and validates whole lines during recovery. Only what the sink's
// query evaluator and recovery need; no allocation on the lookup path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gourmet::sink::json {

enum class Kind : uint8_t { kString, kNumber, kTrue, kFalse, kNull, kObject, kArray };

// One JSON value: its kind and its whole text (strings keep their quotes).
struct Value {
  Kind kind;
  std::string_view text;
};

// Returns the end of the value that starts at `p` (after optional
// whitespace) and sets `*out`, or nullptr when the text is not JSON. The
// strict form checks every token (recovery); the fast form trusts the sink's
// own output and only finds where things end (queries).
const char* ScanValueStrict(const char* p, const char* end, Value* out);
const char* ScanValueFast(const char* p, const char* end, Value* out);

// True when `line` is exactly one valid JSON object.
bool IsObject(std::string_view line);
// True when `text` is exactly one valid JSON value of any kind.
bool IsValue(std::string_view text);

// Calls fn(key, value) for each member of the object `v` (key is the raw
// text between the quotes). Stops early when fn returns true; returns true
// then. Returns false at the end or on malformed text.
template <typename Fn>
bool ForEachMember(std::string_view object, Fn&& fn);

// Calls fn(value) for each element of the array `v`; early stop as above.
template <typename Fn>
bool ForEachElement(std::string_view array, Fn&& fn);

// Calls fn(value) for the values at `path` (n keys) below `v`. Arrays met on
// the way are searched element by element, so `http.host` finds the host of
// each element of an `http` array; an array at the end of the path is
// expanded too when `expand_leaf` is set. Stops when fn returns true.
template <typename Fn>
bool VisitPath(const Value& v, const std::string* path, size_t n, bool expand_leaf, Fn&& fn);

// True when the raw key text (between quotes) equals `name`.
bool KeyEquals(std::string_view raw_key, std::string_view name);

// Decodes a string token (with its quotes) into UTF-8. False when malformed.
bool DecodeString(std::string_view token, std::string* out);
// The decoded content of a string token, in `scratch` only when it has escapes.
std::string_view StringContent(std::string_view token, std::string* scratch);

// Parses a number token.
bool ParseNumber(std::string_view token, double* out);
// Parses a number of seconds such as "1796397424.947038" into microseconds,
// exactly when it has at most six decimals.
bool ParseMicros(std::string_view token, int64_t* us);

// The keys the index needs from a line. Views point into the line.
struct LineKeys {
  int64_t ts_us = 0;
  std::string_view uid;                           // decoded; may point into the storage below
  std::string_view community_id;                  // decoded, may be empty
  std::string uid_storage, community_id_storage;  // used only when there are escapes
};
// Validates `line` strictly (one JSON object with a string "uid") and reads
// its ts, uid and community_id. False when the line is not a valid record.
bool ReadLineKeys(std::string_view line, LineKeys* keys);

// ---- implementation of the templates ----

namespace internal {
inline const char* SkipWs(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}
// p at the opening quote; returns just past the closing quote or nullptr.
const char* SkipStringFast(const char* p, const char* end);
}  // namespace internal

template <typename Fn>
bool ForEachMember(std::string_view object, Fn&& fn) {
  const char* p = object.data();
  const char* end = p + object.size();
  p = internal::SkipWs(p, end);
  if (p == end || *p != '{') return false;
  p = internal::SkipWs(p + 1, end);
  if (p < end && *p == '}') return false;
  for (;;) {
    if (p == end || *p != '"') return false;
    const char* key_end = internal::SkipStringFast(p, end);
    if (key_end == nullptr) return false;
    const std::string_view key(p + 1, key_end - p - 2);
    p = internal::SkipWs(key_end, end);
    if (p == end || *p != ':') return false;
    Value v;
    p = ScanValueFast(p + 1, end, &v);
    if (p == nullptr) return false;
    if (fn(key, v)) return true;
    p = internal::SkipWs(p, end);
    if (p == end) return false;
    if (*p == '}') return false;
    if (*p != ',') return false;
    p = internal::SkipWs(p + 1, end);
  }
}

template <typename Fn>
bool ForEachElement(std::string_view array, Fn&& fn) {
  const char* p = array.data();
  const char* end = p + array.size();
  p = internal::SkipWs(p, end);
  if (p == end || *p != '[') return false;
  p = internal::SkipWs(p + 1, end);
  if (p < end && *p == ']') return false;
  for (;;) {
    Value v;
    p = ScanValueFast(p, end, &v);
    if (p == nullptr) return false;
    if (fn(v)) return true;
    p = internal::SkipWs(p, end);
    if (p == end || *p != ',') return false;
    ++p;
  }
}

namespace internal {
template <typename Fn>
bool VisitPathDepth(const Value& v, const std::string* path, size_t n, bool expand_leaf,
                    int array_depth, Fn& fn) {
  if (v.kind == Kind::kArray && (n > 0 || expand_leaf)) {
    if (array_depth >= 8) return false;  // arrays of arrays this deep are not worth a search
    return ForEachElement(v.text, [&](const Value& e) {
      return VisitPathDepth(e, path, n, expand_leaf, array_depth + 1, fn);
    });
  }
  if (n == 0) return fn(v);
  if (v.kind != Kind::kObject) return false;
  bool hit = false;
  ForEachMember(v.text, [&](std::string_view key, const Value& member) {
    if (!KeyEquals(key, *path)) return false;
    hit = VisitPathDepth(member, path + 1, n - 1, expand_leaf, 0, fn);
    return true;  // keys are unique: the first one with this name is the one
  });
  return hit;
}
}  // namespace internal

template <typename Fn>
bool VisitPath(const Value& v, const std::string* path, size_t n, bool expand_leaf, Fn&& fn) {
  return internal::VisitPathDepth(v, path, n, expand_leaf, 0, fn);
}

}  // namespace gourmet::sink::json
