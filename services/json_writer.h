// A small append-only JSON text builder for the log record, where field order
// and number formatting (ts with exactly six decimals) must be exact.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace gourmet {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(*out) {}

  void BeginObject() {
    Sep();
    out_ += '{';
    first_ = true;
  }
  void EndObject() {
    out_ += '}';
    first_ = false;
  }
  void BeginArray() {
    Sep();
    out_ += '[';
    first_ = true;
  }
  void EndArray() {
    out_ += ']';
    first_ = false;
  }
  void Key(absl::string_view k) {
    Sep();
    AppendString(k);
    out_ += ':';
    first_ = true;
  }

  void String(absl::string_view s) {
    Sep();
    AppendString(s);
  }
  void Uint(uint64_t v) {
    Sep();
    out_ += std::to_string(v);
  }
  void Int(int64_t v) {
    Sep();
    out_ += std::to_string(v);
  }
  // Microseconds as seconds with six decimals: 1796397424.947038.
  void Micros(int64_t us);
  void Bool(bool b) {
    Sep();
    out_ += b ? "true" : "false";
  }
  // Inserts already valid JSON text as a value.
  void Raw(absl::string_view json) {
    Sep();
    out_.append(json.data(), json.size());
  }

  // Appends `s` as a quoted, escaped JSON string.
  static void Escape(absl::string_view s, std::string* out);

 private:
  void Sep() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void AppendString(absl::string_view s) { Escape(s, &out_); }

  std::string& out_;
  bool first_ = true;
};

}  // namespace gourmet
