// Builds raw Ethernet/IPv4/IPv6 TCP/UDP frames for unit tests, so each test
// states the packet it feeds instead of hiding it in a byte array.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gourmet::capture::testing {

struct PacketSpec {
  std::string src = "10.0.0.1";
  std::string dst = "10.0.0.2";
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint8_t proto = 6;
  uint8_t flags = 0;  // TCP flags
  uint32_t seq = 0;
  uint32_t ack = 0;
  std::string payload;
  std::vector<uint16_t> vlans;
};

inline void Put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}
inline void Put32(std::vector<uint8_t>& b, uint32_t v) {
  Put16(b, v >> 16);
  Put16(b, v & 0xffff);
}

// An Ethernet frame carrying the packet described by `s`.
inline std::vector<uint8_t> BuildFrame(const PacketSpec& s) {
  const bool v6 = s.src.find(':') != std::string::npos;
  std::vector<uint8_t> l4;
  if (s.proto == 6) {
    Put16(l4, s.sport);
    Put16(l4, s.dport);
    Put32(l4, s.seq);
    Put32(l4, s.ack);
    l4.push_back(5 << 4);
    l4.push_back(s.flags);
    Put16(l4, 65535);
    Put16(l4, 0);
    Put16(l4, 0);
  } else if (s.proto == 17) {
    Put16(l4, s.sport);
    Put16(l4, s.dport);
    Put16(l4, 8 + s.payload.size());
    Put16(l4, 0);
  } else if (s.proto == 1 || s.proto == 58) {
    l4.push_back(static_cast<uint8_t>(s.sport));  // type
    l4.push_back(static_cast<uint8_t>(s.dport));  // code
    Put16(l4, 0);
  }
  l4.insert(l4.end(), s.payload.begin(), s.payload.end());
  std::vector<uint8_t> f(12, 0x02);  // MACs
  for (uint16_t v : s.vlans) {
    Put16(f, 0x8100);
    Put16(f, v);
  }
  if (!v6) {
    Put16(f, 0x0800);
    f.push_back(0x45);
    f.push_back(0);
    Put16(f, 20 + l4.size());
    Put16(f, 0);
    Put16(f, 0);
    f.push_back(64);
    f.push_back(s.proto);
    Put16(f, 0);
    uint8_t a[4];
    inet_pton(AF_INET, s.src.c_str(), a);
    f.insert(f.end(), a, a + 4);
    inet_pton(AF_INET, s.dst.c_str(), a);
    f.insert(f.end(), a, a + 4);
  } else {
    Put16(f, 0x86dd);
    Put32(f, 0x60000000);
    Put16(f, l4.size());
    f.push_back(s.proto);
    f.push_back(64);
    uint8_t a[16];
    inet_pton(AF_INET6, s.src.c_str(), a);
    f.insert(f.end(), a, a + 16);
    inet_pton(AF_INET6, s.dst.c_str(), a);
    f.insert(f.end(), a, a + 16);
  }
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

// `n` bytes of a pattern that differs with `seed` (payload for tests).
inline std::string PatternBytes(size_t n, char seed) {
  std::string s(n, 0);
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 13);
  return s;
}

}  // namespace gourmet::capture::testing
