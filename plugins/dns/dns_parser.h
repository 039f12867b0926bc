// DNS message parser (RFC 1035, 3596, 2782, 6891): header, questions, the
// three record sections with typed data for A, AAAA, CNAME, NS, PTR, MX, TXT,
// SOA and SRV (other types as type + length), EDNS; TCP length-prefixed
// framing; and the matching of queries to responses by id. Pure functions
// over bytes: bounds-checked, compression pointers must point backwards and
// are capped, names are capped at 255 bytes; a malformed message yields what
// was parsed before the damage plus named anomalies. Nothing throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/half_stream.h"

namespace gourmet::dns {

struct Limits {
  size_t max_messages = 1000;   // per connection
  size_t max_records = 256;     // per section of one message
  size_t max_txt_bytes = 4096;  // per TXT record, beyond which text is cut
};

struct Question {
  std::string name;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct ResourceRecord {
  std::string name;
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  uint16_t rdlength = 0;
  // Printable data: an address, a name, "" for types not decoded; MX/SRV/SOA
  // put their target name here and the numbers below.
  std::string data;
  std::vector<std::string> txt;                 // TXT: each character-string
  uint16_t preference = 0;                      // MX
  uint16_t priority = 0, weight = 0, port = 0;  // SRV
  std::string rname;                            // SOA
  uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;  // SOA
  bool decoded = false;  // data follows the type's format
};

struct EdnsOption {
  uint16_t code = 0;
  uint16_t len = 0;
};

struct Edns {
  uint16_t udp_payload_size = 0;
  uint8_t extended_rcode = 0;
  uint8_t version = 0;
  bool dnssec_ok = false;
  std::vector<EdnsOption> options;
};

struct Message {
  uint16_t id = 0;
  bool qr = false, aa = false, tc = false, rd = false, ra = false, z = false, ad = false,
       cd = false;
  uint8_t opcode = 0;
  uint8_t rcode = 0;  // the header's 4 bits (EDNS may extend it)
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers, authority, additional;  // OPT is in `edns`
  std::optional<Edns> edns;
  std::vector<std::string> anomalies;
  bool complete = false;  // every section parsed as announced
  size_t size = 0;        // bytes of the message
};

// Parses one message (a UDP payload, or one TCP message without its length).
Message ParseMessage(const uint8_t* data, size_t len, const Limits& limits = {});
inline Message ParseMessage(std::string_view s, const Limits& limits = {}) {
  return ParseMessage(reinterpret_cast<const uint8_t*>(s.data()), s.size(), limits);
}

// Content-based detection: a sane header and a question that parses.
// `tcp` means the buffer starts with the 2-byte length prefix.
bool LooksLikeDns(std::string_view payload, bool tcp);

// The messages of one direction of a DNS-over-TCP connection (2-byte length
// prefixes). Stops at a gap or a truncated message, with an anomaly.
struct TcpMessage {
  std::string_view data;
  int64_t ts_us = 0;
};
std::vector<TcpMessage> SplitTcp(const plugins::HalfStream& s, const Limits& limits,
                                 std::vector<std::string>* anomalies);

// A message as seen on the wire, for matching.
struct WireMessage {
  int64_t ts_us = 0;
  std::string_view data;
};

// A query and its response, matched by id (and question); either may be
// missing.
struct Transaction {
  std::optional<Message> query, response;
  int64_t query_ts_us = 0, response_ts_us = 0;
};

// Parses every message and matches each response to the earliest unanswered
// query with the same id and question. Transactions are in query order.
std::vector<Transaction> Match(const std::vector<WireMessage>& messages, const Limits& limits = {});

// Zeek's names: "A", "C_INTERNET", "NXDOMAIN"; unknown values as numbers
// ("TYPE65280"-style for types, as tshark shows them).
std::string TypeName(uint16_t type);
std::string ClassName(uint16_t qclass);
std::string RcodeName(uint16_t rcode);

}  // namespace gourmet::dns
