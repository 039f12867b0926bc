#include "services/json_writer.h"

#include <cinttypes>
#include <cstdio>

namespace gourmet {

void JsonWriter::Micros(int64_t us) {
  Sep();
  char buf[32];
  const bool neg = us < 0;
  const uint64_t a = neg ? -static_cast<uint64_t>(us) : us;
  std::snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%06" PRIu64, neg ? "-" : "", a / 1000000,
                a % 1000000);
  out_ += buf;
}

void JsonWriter::Escape(absl::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace gourmet
