// Loads the captured streams in bench/data/PROTO.streams (written by
// bench/make_data.py from tests/data/*.pcap) for the parser benchmarks.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "plugins/common/half_stream.h"

namespace gourmet::bench {

struct Conn {
  plugins::HalfStream client, server;
  std::vector<std::string> messages;  // one per record (DNS)
  size_t bytes = 0;
};

inline std::vector<Conn> LoadStreams(const std::string& name) {
  std::ifstream f(std::string(GOURMET_BENCH_DATA) + "/" + name + ".streams", std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<Conn> out(1);
  size_t pos = 0;
  while (pos + 5 <= s.size()) {
    const uint8_t dir = static_cast<uint8_t>(s[pos]);
    const size_t len = static_cast<size_t>(static_cast<uint8_t>(s[pos + 1])) << 24 |
                       static_cast<size_t>(static_cast<uint8_t>(s[pos + 2])) << 16 |
                       static_cast<size_t>(static_cast<uint8_t>(s[pos + 3])) << 8 |
                       static_cast<uint8_t>(s[pos + 4]);
    pos += 5;
    if (dir == 255) {
      out.emplace_back();
      continue;
    }
    if (pos + len > s.size()) break;
    std::string_view data(s.data() + pos, len);
    pos += len;
    Conn& c = out.back();
    (dir == 0 ? c.client : c.server).Append(data, 0);
    c.messages.emplace_back(data);
    c.bytes += len;
  }
  if (out.back().bytes == 0) out.pop_back();
  return out;
}

inline size_t TotalBytes(const std::vector<Conn>& conns) {
  size_t n = 0;
  for (const Conn& c : conns) n += c.bytes;
  return n;
}

}  // namespace gourmet::bench
