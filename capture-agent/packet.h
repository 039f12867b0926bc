// The decoded view of one packet: addresses, ports, flags and a view of the
// payload inside the capture buffer. Filled in place; owns nothing.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

namespace gourmet::capture {

struct SharedBytes;

// Raw packet as a source delivers it; valid until the source's next call,
// or for as long as `*shared` is held when the source sets it (a mapped
// file): then payload may be kept by reference instead of copied.
struct RawPacket {
  int64_t ts_us = 0;
  const uint8_t* data = nullptr;
  uint32_t caplen = 0;
  uint32_t wirelen = 0;
  const std::shared_ptr<const SharedBytes>* shared = nullptr;
};

enum TcpFlag : uint8_t {
  kFin = 0x01,
  kSyn = 0x02,
  kRst = 0x04,
  kPsh = 0x08,
  kAck = 0x10,
  kUrg = 0x20,
};

struct DecodedPacket {
  int64_t ts_us = 0;
  uint8_t ip_version = 0;  // 4 or 6
  uint8_t ip_proto = 0;    // 6 tcp, 17 udp, 1 icmp, 58 icmp6, ...
  uint8_t vlan_count = 0;
  uint8_t tcp_flags = 0;
  // Not zeroed on construction (one is built per packet): only the first
  // 4 (IPv4) or 16 (IPv6) bytes are ever written or read.
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport = 0;  // ICMP: type
  uint16_t dport = 0;  // ICMP: code, or the counterpart type for request/reply pairs
  uint16_t vlan[2] = {};
  uint16_t tcp_window = 0;
  uint32_t ip_len = 0;  // IP header + payload as declared by the IP header
  uint32_t seq = 0;
  uint32_t ack = 0;
  const uint8_t* l3 = nullptr;  // the IP header
  const uint8_t* l4 = nullptr;  // the transport header
  uint32_t l4_len = 0;          // captured bytes from l4 on
  uint32_t l4_wire_len = 0;     // bytes the IP header declares from l4 on
  // An anomaly that does not stop analysis (e.g. a malformed IP option);
  // counted, and listed on the packet's connection.
  const char* soft_weird = nullptr;
  const std::shared_ptr<const SharedBytes>* shared = nullptr;  // as RawPacket::shared
  const uint8_t* payload = nullptr;                            // transport payload, as captured
  uint32_t payload_len = 0;                                    // captured bytes of it
  uint32_t payload_wire_len = 0;                               // bytes the headers declare

  // Filled, every field, when Decode() returns kFragment; left as it is
  // otherwise.
  struct Fragment {
    const uint8_t* ip;    // the IP header
    uint32_t header_len;  // IPv4 header with options, or the 40-byte IPv6 header
    const uint8_t* data;  // this fragment's part of the datagram
    uint32_t data_len;
    uint32_t offset;  // in bytes
    uint32_t id;
    bool more;
    uint8_t next_header;  // protocol of the reassembled payload
  } frag;

  // Filled when the transport payload is itself a packet (IP-in-IP, GRE,
  // VXLAN, Teredo): the outer packet is tracked, then `inner` is decoded.
  enum class Encap : uint8_t { kNone, kIp, kEthernet };
  Encap encap = Encap::kNone;
  const uint8_t* inner = nullptr;
  uint32_t inner_len = 0;
};

}  // namespace gourmet::capture
