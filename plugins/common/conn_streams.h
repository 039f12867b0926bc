// Plugin glue shared by the stream analyzers: split a connection's chunks
// into its two directions (HalfStream), and peek at the first bytes of a
// direction for content-based detection in Filter().
#pragma once

#include <gourmet/sdk.h>

#include <string_view>

#include "plugins/common/half_stream.h"

namespace gourmet::plugins {

struct ConnStreams {
  HalfStream orig;
  HalfStream resp;
};

inline ConnStreams SplitStreams(const gourmet::Connection& conn) {
  ConnStreams s;
  for (const gourmet_chunk& c : conn) {
    HalfStream& h = c.direction == GOURMET_DIR_RESP ? s.resp : s.orig;
    h.Append(c.data, c.len, c.ts_us, c.gap_before);
  }
  return s;
}

// The first chunk of `dir`, and whether bytes were missing before it.
inline std::string_view FirstPayload(const gourmet::Connection& conn, int dir,
                                     bool* gap = nullptr) {
  for (const gourmet_chunk& c : conn) {
    if (c.direction != dir || c.len == 0) continue;
    if (gap) *gap = c.gap_before != 0;
    return std::string_view(reinterpret_cast<const char*>(c.data), c.len);
  }
  if (gap) *gap = false;
  return {};
}

}  // namespace gourmet::plugins
