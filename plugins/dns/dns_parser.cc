// DNS message parser. See dns_parser.h.
#include "plugins/dns/dns_parser.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

#include "plugins/common/byte_reader.h"

namespace gourmet::dns {
namespace {

using plugins::ByteReader;
constexpr size_t kMaxName = 255;
constexpr int kMaxPointers = 32;
constexpr size_t kMaxAnomalies = 16;

void Anomaly(std::vector<std::string>* a, const char* name) {
  if (a->size() >= kMaxAnomalies) return;
  if (std::find(a->begin(), a->end(), name) == a->end()) a->push_back(name);
}

// Reads a possibly compressed name starting at *pos in the message `m`.
// Pointers must point before themselves and at most kMaxPointers are
// followed, so a pointer loop ends quickly; names are capped at 255 bytes. On failure returns false
// with an anomaly; `out` holds the labels read so far.
bool ReadName(const uint8_t* m, size_t len, size_t* pos, std::string* out,
              std::vector<std::string>* an) {
  out->clear();
  size_t p = *pos;
  size_t end = 0;  // where the caller continues: after the first pointer
  bool jumped = false;
  int pointers = 0;
  size_t wire_len = 1;
  for (;;) {
    if (p >= len) {
      Anomaly(an, "dns_truncated_name");
      return false;
    }
    const uint8_t l = m[p];
    if (l == 0) {
      ++p;
      break;
    }
    if ((l & 0xC0) == 0xC0) {
      if (p + 1 >= len) {
        Anomaly(an, "dns_truncated_name");
        return false;
      }
      const size_t target = static_cast<size_t>(l & 0x3F) << 8 | m[p + 1];
      if (!jumped) end = p + 2;
      jumped = true;
      if (target >= p || ++pointers > kMaxPointers) {
        Anomaly(an, "dns_bad_compression_pointer");
        return false;
      }
      p = target;
      continue;
    }
    if (l & 0xC0) {
      Anomaly(an, "dns_bad_label_type");
      return false;
    }
    if (p + 1 + l > len) {
      Anomaly(an, "dns_truncated_name");
      return false;
    }
    wire_len += l + 1;
    if (wire_len > kMaxName) {
      Anomaly(an, "dns_name_too_long");
      return false;
    }
    if (!out->empty()) out->push_back('.');
    for (size_t i = p + 1; i <= p + l; ++i) {
      const uint8_t c = m[i];
      if (c == '.' || c == '\\') {
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
      } else if (c < 0x21 || c > 0x7E) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\%03u", c);
        out->append(buf);
      } else {
        out->push_back(static_cast<char>(c));
      }
    }
    p += 1 + l;
  }
  *pos = jumped ? end : p;
  return true;
}

std::string Addr(int af, const uint8_t* p) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(af, p, buf, sizeof(buf));
  return buf;
}

bool ReadU16(const uint8_t* m, size_t len, size_t* pos, uint16_t* v) {
  if (*pos + 2 > len) return false;
  *v = static_cast<uint16_t>(m[*pos] << 8 | m[*pos + 1]);
  *pos += 2;
  return true;
}
bool ReadU32(const uint8_t* m, size_t len, size_t* pos, uint32_t* v) {
  if (*pos + 4 > len) return false;
  *v = uint32_t{m[*pos]} << 24 | uint32_t{m[*pos + 1]} << 16 | uint32_t{m[*pos + 2]} << 8 |
       m[*pos + 3];
  *pos += 4;
  return true;
}

// Decodes the rdata of `rr` at [start, start + rdlength) of message `m`.
// Names inside may point anywhere earlier in the message, but must end
// within the rdata.
void DecodeRdata(const uint8_t* m, size_t len, size_t start, ResourceRecord* rr,
                 const Limits& limits, std::vector<std::string>* an) {
  const size_t end = start + rr->rdlength;
  size_t p = start;
  bool ok = true;
  switch (rr->type) {
    case 1:  // A
      ok = rr->rdlength == 4;
      if (ok) rr->data = Addr(AF_INET, m + start);
      break;
    case 28:  // AAAA
      ok = rr->rdlength == 16;
      if (ok) rr->data = Addr(AF_INET6, m + start);
      break;
    case 2:   // NS
    case 5:   // CNAME
    case 12:  // PTR
    case 39:  // DNAME
      ok = ReadName(m, end, &p, &rr->data, an) && p == end;
      break;
    case 15:  // MX
      ok = ReadU16(m, end, &p, &rr->preference) && ReadName(m, end, &p, &rr->data, an) && p == end;
      break;
    case 33:  // SRV
      ok = ReadU16(m, end, &p, &rr->priority) && ReadU16(m, end, &p, &rr->weight) &&
           ReadU16(m, end, &p, &rr->port) && ReadName(m, end, &p, &rr->data, an) && p == end;
      break;
    case 6:  // SOA
      ok = ReadName(m, end, &p, &rr->data, an) && ReadName(m, end, &p, &rr->rname, an) &&
           ReadU32(m, end, &p, &rr->serial) && ReadU32(m, end, &p, &rr->refresh) &&
           ReadU32(m, end, &p, &rr->retry) && ReadU32(m, end, &p, &rr->expire) &&
           ReadU32(m, end, &p, &rr->minimum) && p == end;
      break;
    case 16: {  // TXT: one or more character-strings
      size_t total = 0;
      while (p < end) {
        const size_t n = m[p];
        if (p + 1 + n > end) {
          ok = false;
          break;
        }
        std::string s(reinterpret_cast<const char*>(m + p + 1), n);
        if (total + n > limits.max_txt_bytes) {
          s.resize(limits.max_txt_bytes - std::min(total, limits.max_txt_bytes));
          Anomaly(an, "dns_txt_too_long");
        }
        total += n;
        rr->txt.push_back(std::move(s));
        p += 1 + n;
      }
      if (ok) {
        for (size_t i = 0; i < rr->txt.size(); ++i) {
          if (i) rr->data.push_back(' ');
          rr->data += rr->txt[i];
        }
      }
      break;
    }
    default:
      return;  // not decoded: type and length only
  }
  if (!ok) {
    Anomaly(an, "dns_bad_rdata");
    rr->data.clear();
    rr->txt.clear();
    return;
  }
  (void)len;
  rr->decoded = true;
}

bool ReadQuestion(const uint8_t* m, size_t len, size_t* pos, Question* q,
                  std::vector<std::string>* an) {
  return ReadName(m, len, pos, &q->name, an) && ReadU16(m, len, pos, &q->qtype) &&
         ReadU16(m, len, pos, &q->qclass);
}

}  // namespace

Message ParseMessage(const uint8_t* m, size_t len, const Limits& limits) {
  Message msg;
  msg.size = len;
  std::vector<std::string>* an = &msg.anomalies;
  if (len < 12) {
    Anomaly(an, "dns_truncated_header");
    return msg;
  }
  msg.id = static_cast<uint16_t>(m[0] << 8 | m[1]);
  const uint8_t f1 = m[2], f2 = m[3];
  msg.qr = f1 & 0x80;
  msg.opcode = (f1 >> 3) & 0x0F;
  msg.aa = f1 & 0x04;
  msg.tc = f1 & 0x02;
  msg.rd = f1 & 0x01;
  msg.ra = f2 & 0x80;
  msg.z = f2 & 0x40;
  msg.ad = f2 & 0x20;
  msg.cd = f2 & 0x10;
  msg.rcode = f2 & 0x0F;
  msg.qdcount = static_cast<uint16_t>(m[4] << 8 | m[5]);
  msg.ancount = static_cast<uint16_t>(m[6] << 8 | m[7]);
  msg.nscount = static_cast<uint16_t>(m[8] << 8 | m[9]);
  msg.arcount = static_cast<uint16_t>(m[10] << 8 | m[11]);
  size_t pos = 12;
  for (uint16_t i = 0; i < msg.qdcount; ++i) {
    if (i >= limits.max_records) {
      Anomaly(an, "dns_too_many_records");
      return msg;
    }
    Question q;
    if (!ReadQuestion(m, len, &pos, &q, an)) {
      Anomaly(an, "dns_truncated_question");
      return msg;
    }
    msg.questions.push_back(std::move(q));
  }
  const uint16_t counts[3] = {msg.ancount, msg.nscount, msg.arcount};
  std::vector<ResourceRecord>* sections[3] = {&msg.answers, &msg.authority, &msg.additional};
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s]; ++i) {
      if (i >= limits.max_records) {
        Anomaly(an, "dns_too_many_records");
        return msg;
      }
      ResourceRecord rr;
      uint16_t rdlength = 0;
      if (!ReadName(m, len, &pos, &rr.name, an) || !ReadU16(m, len, &pos, &rr.type) ||
          !ReadU16(m, len, &pos, &rr.rclass) || !ReadU32(m, len, &pos, &rr.ttl) ||
          !ReadU16(m, len, &pos, &rdlength) || pos + rdlength > len) {
        Anomaly(an, "dns_truncated_record");
        return msg;
      }
      rr.rdlength = rdlength;
      if (rr.type == 41) {  // OPT pseudo-record: EDNS
        if (s != 2 || msg.edns) Anomaly(an, "dns_misplaced_opt");
        Edns e;
        e.udp_payload_size = rr.rclass;
        e.extended_rcode = static_cast<uint8_t>(rr.ttl >> 24);
        e.version = static_cast<uint8_t>(rr.ttl >> 16);
        e.dnssec_ok = rr.ttl & 0x8000;
        ByteReader opts(m + pos, rdlength);
        while (!opts.empty() && e.options.size() < 32) {
          EdnsOption o;
          if (!opts.U16(&o.code) || !opts.U16(&o.len) || !opts.Skip(o.len)) {
            Anomaly(an, "dns_bad_edns_option");
            break;
          }
          e.options.push_back(o);
        }
        if (!msg.edns) msg.edns = std::move(e);
      } else {
        DecodeRdata(m, len, pos, &rr, limits, an);
        sections[s]->push_back(std::move(rr));
      }
      pos += rdlength;
    }
  }
  if (pos != len) Anomaly(an, "dns_trailing_bytes");
  msg.complete = true;
  return msg;
}

bool LooksLikeDns(std::string_view payload, bool tcp) {
  ByteReader r(payload);
  if (tcp) {
    uint16_t n;
    if (!r.U16(&n) || n < 12) return false;
  }
  const uint8_t* m = r.cursor();
  const size_t len = r.remaining();
  if (len < 17) return false;  // header + root name + type + class
  const uint8_t opcode = (m[2] >> 3) & 0x0F;
  if (opcode > 6 || opcode == 3) return false;
  const uint16_t qd = static_cast<uint16_t>(m[4] << 8 | m[5]);
  const uint16_t an = static_cast<uint16_t>(m[6] << 8 | m[7]);
  const uint16_t ns = static_cast<uint16_t>(m[8] << 8 | m[9]);
  const uint16_t ar = static_cast<uint16_t>(m[10] << 8 | m[11]);
  if (qd < 1 || qd > 4 || an > 512 || ns > 512 || ar > 512) return false;
  const bool qr = m[2] & 0x80;
  if (!qr && (an > 0 || ns > 0)) return false;  // a query carries no answers
  std::vector<std::string> ignored;
  size_t pos = 12;
  Question q;
  if (!ReadQuestion(m, len, &pos, &q, &ignored)) return false;
  const uint16_t cls = q.qclass & 0x7FFF;  // mDNS uses the top bit
  return q.qtype != 0 && (cls == 1 || cls == 3 || cls == 4 || cls == 254 || cls == 255);
}

std::vector<TcpMessage> SplitTcp(const plugins::HalfStream& s, const Limits& limits,
                                 std::vector<std::string>* anomalies) {
  std::vector<TcpMessage> out;
  const std::string_view d = s.view();
  size_t pos = 0;
  while (pos < d.size()) {
    if (out.size() >= limits.max_messages) {
      Anomaly(anomalies, "dns_too_many_messages");
      break;
    }
    if (pos + 2 > d.size()) {
      Anomaly(anomalies, "dns_truncated_tcp_length");
      break;
    }
    const size_t n = static_cast<uint8_t>(d[pos]) << 8 | static_cast<uint8_t>(d[pos + 1]);
    if (pos + 2 + n > d.size()) {
      Anomaly(anomalies, "dns_truncated_message");
      break;
    }
    if (s.GapWithin(pos, pos + 2 + n - 1) != std::string_view::npos) {
      Anomaly(anomalies, "dns_tcp_gap");
      break;  // the length prefixes cannot be trusted after a gap
    }
    out.push_back({d.substr(pos + 2, n), s.TsAt(pos)});
    pos += 2 + n;
  }
  return out;
}

std::vector<Transaction> Match(const std::vector<WireMessage>& messages, const Limits& limits) {
  std::vector<Transaction> out;
  for (const WireMessage& w : messages) {
    if (out.size() >= limits.max_messages) break;
    Message m =
        ParseMessage(reinterpret_cast<const uint8_t*>(w.data.data()), w.data.size(), limits);
    if (!m.qr) {
      Transaction t;
      t.query_ts_us = w.ts_us;
      t.query = std::move(m);
      out.push_back(std::move(t));
      continue;
    }
    Transaction* match = nullptr;
    for (Transaction& t : out) {
      if (!t.query || t.response || t.query->id != m.id) continue;
      if (!t.query->questions.empty() && !m.questions.empty() &&
          (t.query->questions[0].name != m.questions[0].name ||
           t.query->questions[0].qtype != m.questions[0].qtype)) {
        continue;
      }
      match = &t;
      break;
    }
    if (!match) {
      out.emplace_back();
      match = &out.back();
    }
    match->response_ts_us = w.ts_us;
    match->response = std::move(m);
  }
  return out;
}

std::string TypeName(uint16_t type) {
  switch (type) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 13:
      return "HINFO";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 29:
      return "LOC";
    case 33:
      return "SRV";
    case 35:
      return "NAPTR";
    case 39:
      return "DNAME";
    case 41:
      return "OPT";
    case 43:
      return "DS";
    case 46:
      return "RRSIG";
    case 47:
      return "NSEC";
    case 48:
      return "DNSKEY";
    case 50:
      return "NSEC3";
    case 52:
      return "TLSA";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 99:
      return "SPF";
    case 250:
      return "TSIG";
    case 251:
      return "IXFR";
    case 252:
      return "AXFR";
    case 255:
      return "*";
    case 257:
      return "CAA";
    default:
      return "TYPE" + std::to_string(type);
  }
}

std::string ClassName(uint16_t c) {
  switch (c) {
    case 1:
      return "C_INTERNET";
    case 3:
      return "C_CHAOS";
    case 4:
      return "C_HESIOD";
    case 254:
      return "C_NONE";
    case 255:
      return "C_ANY";
    default:
      return "CLASS" + std::to_string(c);
  }
}

std::string RcodeName(uint16_t rcode) {
  static const char* const kNames[] = {
      "NOERROR",       "FORMERR",       "SERVFAIL",      "NXDOMAIN",      "NOTIMP",  "REFUSED",
      "YXDOMAIN",      "YXRRSET",       "NXRRSET",       "NOTAUTH",       "NOTZONE", "DSOTYPENI",
      "unassigned-12", "unassigned-13", "unassigned-14", "unassigned-15", "BADVERS"};
  if (rcode < sizeof(kNames) / sizeof(kNames[0])) return kNames[rcode];
  return "RCODE" + std::to_string(rcode);
}

}  // namespace gourmet::dns
