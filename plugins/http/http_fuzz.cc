// libFuzzer target for the HTTP parser. The input is split into the two
// directions at the first 0xff byte (client bytes, then server bytes); a
// second 0xff inserts a 7-byte gap there, so gap handling is fuzzed too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plugins/http/http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find('\xff');
  std::string_view orig = in.substr(0, cut);
  std::string_view resp = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 1);
  gourmet::plugins::HalfStream q, a;
  size_t gap = resp.find('\xff');
  if (gap == std::string_view::npos) {
    a.Append(resp, 2);
  } else {
    a.Append(resp.substr(0, gap), 2);
    a.Append(resp.substr(gap + 1), 3, /*gap_before=*/7);
  }
  size_t half = orig.size() / 2;
  q.Append(orig.substr(0, half), 1);
  q.Append(orig.substr(half), 1, orig.size() % 3 == 0 ? 5 : 0);
  gourmet::http::Limits limits;
  limits.max_transactions = 64;
  limits.max_header_bytes = 4096;
  gourmet::http::Result r = gourmet::http::Parse(q, a, limits);
  if (r.transactions.size() > 64) __builtin_trap();
  return 0;
}
