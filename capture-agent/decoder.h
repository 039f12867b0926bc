// Packet decoding: link layer to transport, in place, without allocation.
// Malformed traffic is data: Decode() returns a named anomaly ("weird")
// instead of throwing, and the caller counts it.
#pragma once

#include <cstdint>

#include "capture-agent/packet.h"

namespace gourmet::capture {

// libpcap DLT_* values we decode.
enum LinkType : int {
  kLinkNull = 0,  // BSD loopback
  kLinkEthernet = 1,
  kLinkRaw = 101,    // raw IPv4/IPv6
  kLinkRawAlt = 12,  // DLT_RAW on some platforms
  kLinkLoop = 108,   // OpenBSD loopback
  kLinkLinuxSll = 113,
  kLinkIpv4 = 228,
  kLinkIpv6 = 229,
  kLinkLinuxSll2 = 276,
};

enum class DecodeResult {
  kOk,        // an IP packet with transport fields filled
  kNotIp,     // valid, but nothing we track (ARP, LLDP, ...)
  kWeird,     // malformed; `weird` names the anomaly
  kFragment,  // an IP fragment: addresses filled, needs reassembly
};

// True when libpcap link type `dlt` is one Decode() understands.
bool IsSupportedLinkType(int dlt);

// Decodes `raw` captured on link type `dlt` into `out`. On kWeird, `*weird`
// points at a static anomaly name such as "truncated_ip".
DecodeResult Decode(int dlt, const RawPacket& raw, DecodedPacket* out, const char** weird);

// Decodes an IP packet (a reassembled datagram, or the inner packet of a
// tunnel) into `out`, keeping its timestamp and VLAN tags.
DecodeResult DecodeIp(const uint8_t* data, uint32_t len, DecodedPacket* out, const char** weird);
// Checks the IPv4 header checksum and the TCP/UDP checksum of a decoded
// packet; returns the anomaly name of the first bad one, or nullptr. A
// segment cut by the snap length cannot be checked and passes.
const char* VerifyChecksums(const DecodedPacket& p);

// Decodes an Ethernet frame carried inside a tunnel (VXLAN, GRE TEB).
DecodeResult DecodeEthernet(const uint8_t* data, uint32_t len, DecodedPacket* out,
                            const char** weird);

}  // namespace gourmet::capture
