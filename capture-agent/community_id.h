// Community ID flow hashing, version 1 (https://github.com/corelight/community-id-spec).
#pragma once

#include <cstdint>
#include <string>

namespace gourmet::capture {

// `addr_len` is 4 or 16. Ports are TCP/UDP ports, or for ICMP the type and
// code (the spec maps ICMP request/reply types itself; pass type and code).
std::string CommunityId(uint16_t seed, uint8_t proto, const uint8_t* src, const uint8_t* dst,
                        int addr_len, uint16_t sport, uint16_t dport);

}  // namespace gourmet::capture
