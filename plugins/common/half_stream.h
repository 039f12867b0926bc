// One direction of a connection's payload as one contiguous buffer, with
// where each delivered chunk started, its timestamp and the bytes missing
// before it. Built by the plugin glue from the SDK's chunks and consumed by
// the stream parsers (http, tls, ssh), which stay free of plugin code.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gourmet::plugins {

struct HalfStream {
  struct Piece {
    size_t offset;        // where this chunk starts in `data`
    int64_t ts_us;        // its capture time
    uint64_t gap_before;  // bytes missing just before it (0 = contiguous)
  };
  std::string data;
  std::vector<Piece> pieces;
  std::vector<size_t> gaps;  // indexes into `pieces` of those with gap_before > 0

  void Append(const uint8_t* p, size_t n, int64_t ts_us, uint64_t gap_before) {
    if (gap_before) gaps.push_back(pieces.size());
    pieces.push_back({data.size(), ts_us, gap_before});
    data.append(reinterpret_cast<const char*>(p), n);
  }
  void Append(std::string_view s, int64_t ts_us = 0, uint64_t gap_before = 0) {
    Append(reinterpret_cast<const uint8_t*>(s.data()), s.size(), ts_us, gap_before);
  }
  std::string_view view() const { return data; }

  // Timestamp of the chunk holding byte `offset` (0 when there is none).
  int64_t TsAt(size_t offset) const {
    auto it = std::upper_bound(pieces.begin(), pieces.end(), offset,
                               [](size_t o, const Piece& p) { return o < p.offset; });
    if (it == pieces.begin()) return pieces.empty() ? 0 : pieces.front().ts_us;
    return std::prev(it)->ts_us;
  }
  // Offset of the first gap that lies in (begin, end], i.e. bytes missing
  // between data[begin] and data[end]; npos if none. A gap at `end` counts.
  size_t GapWithin(size_t begin, size_t end) const {
    const Piece* g = NextGap(begin + 1);
    return g && g->offset <= end ? g->offset : std::string_view::npos;
  }
  // Index into `gaps` of the first gap at offset >= from (gaps.size() if none).
  size_t GapIndex(size_t from) const {
    return std::lower_bound(gaps.begin(), gaps.end(), from,
                            [this](size_t i, size_t o) { return pieces[i].offset < o; }) -
           gaps.begin();
  }
  const Piece& GapPiece(size_t gap_index) const { return pieces[gaps[gap_index]]; }
  // The first piece with a gap at offset >= from, or nullptr.
  const Piece* NextGap(size_t from) const {
    size_t i = GapIndex(from);
    return i < gaps.size() ? &GapPiece(i) : nullptr;
  }
  uint64_t GapBytes() const {
    uint64_t n = 0;
    for (const Piece& p : pieces) n += p.gap_before;
    return n;
  }
};

}  // namespace gourmet::plugins
