#include "capture-agent/community_id.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace gourmet::capture {
namespace {

// The spec's ICMP type mapping: a request/reply pair maps to the same flow;
// one-way types keep type/code and are never swapped.
bool IcmpPorts(uint8_t proto, uint16_t type, uint16_t code, uint16_t* sport, uint16_t* dport) {
  static const int v4[][2] = {{8, 0},   {0, 8},  {13, 14}, {14, 13}, {15, 16},
                              {16, 15}, {10, 9}, {9, 10},  {17, 18}, {18, 17}};
  static const int v6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133}, {135, 136},
                              {136, 135}, {130, 131}, {131, 130}, {144, 145}, {145, 144}};
  *sport = type;
  if (proto == 1) {
    for (const auto& m : v4) {
      if (m[0] == type) {
        *dport = m[1];
        return false;
      }
    }
  } else {
    for (const auto& m : v6) {
      if (m[0] == type) {
        *dport = m[1];
        return false;
      }
    }
  }
  *dport = code;
  return true;  // one-way
}

}  // namespace

std::string CommunityId(uint16_t seed, uint8_t proto, const uint8_t* src, const uint8_t* dst,
                        int addr_len, uint16_t sport, uint16_t dport) {
  bool one_way = false;
  if (proto == 1 || proto == 58) one_way = IcmpPorts(proto, sport, dport, &sport, &dport);
  const bool has_ports = proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
  // Order the endpoints: smaller address first, ties broken by port.
  const int cmp = std::memcmp(src, dst, addr_len);
  const bool swap = !one_way && (cmp > 0 || (cmp == 0 && sport > dport));
  if (swap) {
    std::swap(src, dst);
    std::swap(sport, dport);
  }
  uint8_t buf[2 + 16 + 16 + 2 + 4];
  size_t n = 0;
  buf[n++] = seed >> 8;
  buf[n++] = seed & 0xff;
  std::memcpy(buf + n, src, addr_len);
  n += addr_len;
  std::memcpy(buf + n, dst, addr_len);
  n += addr_len;
  buf[n++] = proto;
  buf[n++] = 0;
  if (has_ports) {
    buf[n++] = sport >> 8;
    buf[n++] = sport & 0xff;
    buf[n++] = dport >> 8;
    buf[n++] = dport & 0xff;
  }
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1(buf, n, digest);
  unsigned char b64[32];
  const int len = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return "1:" + std::string(reinterpret_cast<char*>(b64), len);
}

}  // namespace gourmet::capture
