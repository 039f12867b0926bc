#include "capture-agent/decoder.h"

#include <cstring>

namespace gourmet::capture {
namespace {

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint16_t kEtherQinQOld = 0x9100;

// ICMP request types and the reply type that belongs to the same connection
// (the community-id spec's table; Zeek pairs them the same way).
int IcmpCounterpart(uint8_t type, bool v6) {
  if (!v6) {
    switch (type) {
      case 8:
        return 0;
      case 0:
        return 8;  // echo
      case 13:
        return 14;
      case 14:
        return 13;  // timestamp
      case 15:
        return 16;
      case 16:
        return 15;  // info
      case 10:
        return 9;
      case 9:
        return 10;  // router solicitation/advert
      case 17:
        return 18;
      case 18:
        return 17;  // address mask
    }
  } else {
    switch (type) {
      case 128:
        return 129;
      case 129:
        return 128;  // echo
      case 133:
        return 134;
      case 134:
        return 133;  // router
      case 135:
        return 136;
      case 136:
        return 135;  // neighbor
      case 130:
        return 131;
      case 131:
        return 130;  // multicast listener
      case 144:
        return 145;
      case 145:
        return 144;  // home agent discovery
    }
  }
  return -1;
}

DecodeResult Weird(const char** weird, const char* name) {
  *weird = name;
  return DecodeResult::kWeird;
}

constexpr uint16_t kVxlanPort = 4789;
constexpr uint16_t kTeredoPort = 3544;

void SetInner(DecodedPacket* out, DecodedPacket::Encap kind, const uint8_t* p, uint32_t len) {
  out->encap = kind;
  out->inner = p;
  out->inner_len = len;
}

// GRE (RFC 2784/2890), version 0 only: optional checksum, key and sequence.
void DecodeGre(const uint8_t* p, uint32_t len, DecodedPacket* out) {
  if (len < 4) return;
  const uint16_t flags = Be16(p);
  if ((flags & 0x0007) != 0) return;  // version 1 is PPTP's enhanced GRE
  uint32_t hlen = 4;
  if (flags & 0x8000) hlen += 4;  // checksum + reserved
  if (flags & 0x2000) hlen += 4;  // key
  if (flags & 0x1000) hlen += 4;  // sequence
  if (len < hlen) return;
  switch (Be16(p + 2)) {
    case kEtherIpv4:
    case kEtherIpv6:
      SetInner(out, DecodedPacket::Encap::kIp, p + hlen, len - hlen);
      break;
    case 0x6558:  // transparent Ethernet bridging
      SetInner(out, DecodedPacket::Encap::kEthernet, p + hlen, len - hlen);
      break;
  }
}

void DecodeUdpTunnel(DecodedPacket* out) {
  const uint8_t* p = out->payload;
  const uint32_t len = out->payload_len;
  if ((out->dport == kVxlanPort || out->sport == kVxlanPort) && len >= 8 + 14 && (p[0] & 0x08)) {
    SetInner(out, DecodedPacket::Encap::kEthernet, p + 8, len - 8);
    return;
  }
  if (out->dport == kTeredoPort || out->sport == kTeredoPort) {
    // RFC 4380: optional authentication (type 1) and origin indication
    // (type 0) headers, then an IPv6 packet.
    uint32_t off = 0;
    if (len >= off + 4 && p[off] == 0 && p[off + 1] == 1) {
      const uint32_t id_len = p[off + 2], auth_len = p[off + 3];
      off += 4 + id_len + auth_len + 8 + 1;
    }
    if (len >= off + 8 && p[off] == 0 && p[off + 1] == 0) off += 8;
    if (len >= off + 40 && (p[off] >> 4) == 6 && 40u + Be16(p + off + 4) == len - off) {
      SetInner(out, DecodedPacket::Encap::kIp, p + off, len - off);
    }
  }
}

DecodeResult DecodeTransport(const uint8_t* p, uint32_t len, uint32_t wire_len, DecodedPacket* out,
                             const char** weird) {
  out->l4 = p;
  out->l4_len = len;
  out->l4_wire_len = wire_len;
  switch (out->ip_proto) {
    case 6: {
      if (len < 20) return Weird(weird, "truncated_tcp_header");
      const uint32_t off = (p[12] >> 4) * 4u;
      if (off < 20) return Weird(weird, "bad_tcp_header_len");
      if (wire_len < off) return Weird(weird, "bad_tcp_header_len");
      if (len < off) return Weird(weird, "truncated_tcp_header");
      out->sport = Be16(p);
      out->dport = Be16(p + 2);
      out->seq = Be32(p + 4);
      out->ack = Be32(p + 8);
      out->tcp_flags = p[13];
      out->tcp_window = Be16(p + 14);
      out->payload = p + off;
      out->payload_len = len - off;
      out->payload_wire_len = wire_len - off;
      return DecodeResult::kOk;
    }
    case 17: {
      if (len < 8) return Weird(weird, "truncated_udp_header");
      const uint16_t ulen = Be16(p + 4);
      if (ulen < 8 || ulen > wire_len) return Weird(weird, "bad_udp_length");
      out->sport = Be16(p);
      out->dport = Be16(p + 2);
      out->payload = p + 8;
      out->payload_wire_len = ulen - 8u;
      out->payload_len = len - 8 < out->payload_wire_len ? len - 8 : out->payload_wire_len;
      DecodeUdpTunnel(out);
      return DecodeResult::kOk;
    }
    case 1:
    case 58: {
      if (len < 4) return Weird(weird, "truncated_icmp_header");
      const uint8_t type = p[0], code = p[1];
      const int counterpart = IcmpCounterpart(type, out->ip_proto == 58);
      out->sport = type;
      out->dport = counterpart >= 0 ? static_cast<uint16_t>(counterpart) : code;
      out->payload = p + 4;
      out->payload_len = len - 4;
      out->payload_wire_len = wire_len - 4;
      return DecodeResult::kOk;
    }
    default:
      out->payload = p;
      out->payload_len = len;
      out->payload_wire_len = wire_len;
      if (out->ip_proto == 4 || out->ip_proto == 41) {  // IPv4 / IPv6 in IP
        SetInner(out, DecodedPacket::Encap::kIp, p, len);
      } else if (out->ip_proto == 47) {
        DecodeGre(p, len, out);
      }
      return DecodeResult::kOk;
  }
}

DecodeResult DecodeIpv4(const uint8_t* p, uint32_t len, DecodedPacket* out, const char** weird) {
  if (len < 20) return Weird(weird, "truncated_ip_header");
  if ((p[0] >> 4) != 4) return Weird(weird, "bad_ip_version");
  const uint32_t ihl = (p[0] & 0x0f) * 4u;
  if (ihl < 20) return Weird(weird, "bad_ip_header_len");
  if (len < ihl) return Weird(weird, "truncated_ip_header");
  const uint32_t total = Be16(p + 2);
  if (total < ihl) return Weird(weird, "bad_ip_total_len");
  out->ip_version = 4;
  out->l3 = p;
  // Options (RFC 791): EOL and NOP are one byte; every other option carries
  // a length of at least 2 that must stay inside the header.
  for (uint32_t o = 20; o < ihl;) {
    const uint8_t type = p[o];
    if (type == 0) break;
    if (type == 1) {
      ++o;
      continue;
    }
    if (o + 1 >= ihl || p[o + 1] < 2 || o + p[o + 1] > ihl) {
      out->soft_weird = "bad_ip_option_length";
      break;
    }
    o += p[o + 1];
  }
  out->ip_proto = p[9];
  out->ip_len = total;
  std::memcpy(out->src, p + 12, 4);
  std::memcpy(out->dst, p + 16, 4);
  const uint16_t frag = Be16(p + 6);
  if ((frag & 0x3fff) != 0) {  // MF set or offset non-zero
    out->frag.ip = p;
    out->frag.header_len = ihl;
    out->frag.data = p + ihl;
    out->frag.data_len = (len < total ? len : total) - ihl;
    out->frag.offset = (frag & 0x1fffu) * 8u;
    out->frag.id = Be16(p + 4);
    out->frag.more = frag & 0x2000;
    out->frag.next_header = out->ip_proto;
    if (out->frag.data_len < total - ihl) return Weird(weird, "truncated_fragment");
    return DecodeResult::kFragment;
  }
  // Ethernet padding makes the capture longer than the datagram; a short
  // capture (snaplen) makes it shorter.
  const uint32_t captured = len < total ? len : total;
  return DecodeTransport(p + ihl, captured - ihl, total - ihl, out, weird);
}

DecodeResult DecodeIpv6(const uint8_t* p, uint32_t len, DecodedPacket* out, const char** weird) {
  if (len < 40) return Weird(weird, "truncated_ip6_header");
  if ((p[0] >> 4) != 6) return Weird(weird, "bad_ip_version");
  const uint32_t plen = Be16(p + 4);
  out->ip_version = 6;
  out->l3 = p;
  out->ip_len = 40 + plen;
  std::memcpy(out->src, p + 8, 16);
  std::memcpy(out->dst, p + 24, 16);
  uint8_t next = p[6];
  uint32_t captured = len - 40 < plen ? len - 40 : plen;
  uint32_t wire = plen;
  const uint8_t* cur = p + 40;
  // Walk extension headers (RFC 8200 section 4) to the transport header.
  for (int guard = 0; guard < 16; ++guard) {
    switch (next) {
      case 0:     // hop-by-hop
      case 43:    // routing
      case 60: {  // destination options
        if (captured < 8) return Weird(weird, "truncated_ip6_ext_header");
        const uint32_t hlen = (cur[1] + 1u) * 8u;
        if (hlen > wire) return Weird(weird, "bad_ip6_ext_header_len");
        if (hlen > captured) return Weird(weird, "truncated_ip6_ext_header");
        next = cur[0];
        cur += hlen;
        captured -= hlen;
        wire -= hlen;
        continue;
      }
      case 51: {  // authentication header: length in 4-byte units
        if (captured < 8) return Weird(weird, "truncated_ip6_ext_header");
        const uint32_t hlen = (cur[1] + 2u) * 4u;
        if (hlen > captured || hlen > wire) return Weird(weird, "bad_ip6_ext_header_len");
        next = cur[0];
        cur += hlen;
        captured -= hlen;
        wire -= hlen;
        continue;
      }
      case 44: {  // fragment
        if (captured < 8) return Weird(weird, "truncated_ip6_ext_header");
        out->ip_proto = cur[0];
        const uint16_t off_flags = Be16(cur + 2);
        out->frag.ip = p;
        out->frag.header_len = 40;
        out->frag.data = cur + 8;
        out->frag.data_len = captured - 8;
        out->frag.offset = off_flags & 0xfff8u;
        out->frag.more = off_flags & 1;
        out->frag.id = Be32(cur + 4);
        out->frag.next_header = cur[0];
        if (captured < wire) return Weird(weird, "truncated_fragment");
        // An atomic fragment (offset 0, no more) is a whole datagram.
        if (out->frag.offset == 0 && !out->frag.more) {
          return DecodeTransport(cur + 8, captured - 8, wire - 8, out, weird);
        }
        return DecodeResult::kFragment;
      }
      case 59:  // no next header
        out->ip_proto = 59;
        out->payload = cur;
        out->payload_len = 0;
        out->payload_wire_len = 0;
        return DecodeResult::kOk;
      default:
        out->ip_proto = next;
        return DecodeTransport(cur, captured, wire, out, weird);
    }
  }
  return Weird(weird, "ip6_ext_header_chain_too_long");
}

DecodeResult DecodeRawIp(const uint8_t* p, uint32_t len, DecodedPacket* out, const char** weird);

DecodeResult DecodeEtherPayload(uint16_t ethertype, const uint8_t* p, uint32_t len,
                                DecodedPacket* out, const char** weird) {
  // Up to two VLAN tags (802.1Q, QinQ); deeper stacks are counted and skipped.
  while (ethertype == kEtherVlan || ethertype == kEtherQinQ || ethertype == kEtherQinQOld) {
    if (len < 4) return Weird(weird, "truncated_vlan_header");
    if (out->vlan_count < 2) out->vlan[out->vlan_count] = Be16(p) & 0x0fff;
    ++out->vlan_count;
    ethertype = Be16(p + 2);
    p += 4;
    len -= 4;
  }
  if (out->vlan_count > 2) out->vlan_count = 2;
  if (ethertype == 0x8847 || ethertype == 0x8848) {  // MPLS unicast/multicast
    for (int labels = 0;; ++labels) {
      if (len < 4) return Weird(weird, "truncated_mpls_header");
      if (labels >= 16) return Weird(weird, "mpls_stack_too_deep");
      const bool bottom = p[2] & 1;
      p += 4;
      len -= 4;
      if (bottom) break;
    }
    // No protocol field after the stack: IP is told by its version nibble.
    return DecodeRawIp(p, len, out, weird);
  }
  switch (ethertype) {
    case kEtherIpv4:
      return DecodeIpv4(p, len, out, weird);
    case kEtherIpv6:
      return DecodeIpv6(p, len, out, weird);
    default:
      return DecodeResult::kNotIp;
  }
}

DecodeResult DecodeRawIp(const uint8_t* p, uint32_t len, DecodedPacket* out, const char** weird) {
  if (len < 1) return Weird(weird, "truncated_ip_header");
  switch (p[0] >> 4) {
    case 4:
      return DecodeIpv4(p, len, out, weird);
    case 6:
      return DecodeIpv6(p, len, out, weird);
    default:
      return Weird(weird, "bad_ip_version");
  }
}

uint32_t Sum16(const uint8_t* p, size_t n, uint32_t sum) {
  for (; n > 1; n -= 2, p += 2) sum += Be16(p);
  if (n) sum += p[0] << 8;
  return sum;
}

uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace

const char* VerifyChecksums(const DecodedPacket& p) {
  if (p.ip_version == 4 && p.l3) {
    const uint32_t ihl = (p.l3[0] & 0x0f) * 4u;
    if (Fold(Sum16(p.l3, ihl, 0)) != 0xffff) return "bad_ip_checksum";
  }
  if ((p.ip_proto != 6 && p.ip_proto != 17) || !p.l4 || p.l4_len < p.l4_wire_len) return nullptr;
  if (p.ip_proto == 17 && p.ip_version == 4 && Be16(p.l4 + 6) == 0) return nullptr;  // no checksum
  // The pseudo-header, then the whole segment (its checksum field included).
  const int alen = p.ip_version == 4 ? 4 : 16;
  uint32_t sum = Sum16(p.src, alen, 0);
  sum = Sum16(p.dst, alen, sum);
  sum += p.ip_proto;
  sum += p.l4_wire_len & 0xffff;
  sum += p.l4_wire_len >> 16;
  sum = Sum16(p.l4, p.l4_wire_len, sum);
  if (Fold(sum) != 0xffff) return p.ip_proto == 6 ? "bad_tcp_checksum" : "bad_udp_checksum";
  return nullptr;
}

bool IsSupportedLinkType(int dlt) {
  switch (dlt) {
    case kLinkNull:
    case kLinkEthernet:
    case kLinkRaw:
    case kLinkRawAlt:
    case kLinkLoop:
    case kLinkLinuxSll:
    case kLinkIpv4:
    case kLinkIpv6:
    case kLinkLinuxSll2:
      return true;
  }
  return false;
}

namespace {
void ResetLayers(DecodedPacket* out) {
  out->ip_version = 0;
  out->soft_weird = nullptr;
  out->l3 = out->l4 = nullptr;
  out->tcp_flags = 0;
  out->sport = out->dport = 0;
  out->payload_len = out->payload_wire_len = 0;
  out->encap = DecodedPacket::Encap::kNone;
}
}  // namespace

DecodeResult DecodeIp(const uint8_t* data, uint32_t len, DecodedPacket* out, const char** weird) {
  ResetLayers(out);
  return DecodeRawIp(data, len, out, weird);
}

DecodeResult DecodeEthernet(const uint8_t* p, uint32_t len, DecodedPacket* out,
                            const char** weird) {
  ResetLayers(out);
  if (len < 14) return Weird(weird, "truncated_ethernet_frame");
  return DecodeEtherPayload(Be16(p + 12), p + 14, len - 14, out, weird);
}

DecodeResult Decode(int dlt, const RawPacket& raw, DecodedPacket* out, const char** weird) {
  out->ts_us = raw.ts_us;
  out->vlan_count = 0;
  ResetLayers(out);
  const uint8_t* p = raw.data;
  const uint32_t len = raw.caplen;
  switch (dlt) {
    case kLinkEthernet:
      if (len < 14) return Weird(weird, "truncated_ethernet_frame");
      return DecodeEtherPayload(Be16(p + 12), p + 14, len - 14, out, weird);
    case kLinkLinuxSll:  // 16-byte header, protocol at offset 14
      if (len < 16) return Weird(weird, "truncated_sll_header");
      return DecodeEtherPayload(Be16(p + 14), p + 16, len - 16, out, weird);
    case kLinkLinuxSll2:  // 20-byte header, protocol at offset 0
      if (len < 20) return Weird(weird, "truncated_sll2_header");
      return DecodeEtherPayload(Be16(p), p + 20, len - 20, out, weird);
    case kLinkNull:
    case kLinkLoop: {
      // 4-byte address family, host order for NULL, network order for LOOP.
      if (len < 4) return Weird(weird, "truncated_null_header");
      return DecodeRawIp(p + 4, len - 4, out, weird);
    }
    case kLinkRaw:
    case kLinkRawAlt:
      return DecodeRawIp(p, len, out, weird);
    case kLinkIpv4:
      return DecodeIpv4(p, len, out, weird);
    case kLinkIpv6:
      return DecodeIpv6(p, len, out, weird);
  }
  return Weird(weird, "unsupported_link_type");
}

}  // namespace gourmet::capture
