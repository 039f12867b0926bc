// Unit tests for the DNS parser: record types, compression, EDNS, TCP
// framing, matching, and hostile input (pointer loops, truncation).
#include "plugins/dns/dns_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace gourmet::dns {
namespace {

// Builds DNS messages byte by byte.
struct B {
  std::string s;
  B& u8(int v) {
    s.push_back(static_cast<char>(v));
    return *this;
  }
  B& u16(int v) { return u8(v >> 8).u8(v & 0xff); }
  B& u32(uint32_t v) { return u16(v >> 16).u16(v & 0xffff); }
  B& name(const std::string& n) {
    size_t start = 0;
    while (start < n.size()) {
      size_t dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      u8(static_cast<int>(dot - start));
      s += n.substr(start, dot - start);
      start = dot + 1;
    }
    return u8(0);
  }
  B& ptr(int off) { return u16(0xC000 | off); }
  B& raw(const std::string& r) {
    s += r;
    return *this;
  }
};

B Header(int id, int flags, int qd, int an, int ns, int ar) {
  B b;
  b.u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  return b;
}

TEST(DnsParser, QueryWithEdns) {
  B b = Header(0x1234, 0x0120, 1, 0, 0, 1);
  b.name("www.gourmet.test").u16(1).u16(1);
  b.u8(0).u16(41).u16(1232).u32(0x00008000).u16(12).u16(10).u16(8).raw("cookie!!");
  Message m = ParseMessage(b.s);
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.anomalies.empty());
  EXPECT_EQ(m.id, 0x1234);
  EXPECT_FALSE(m.qr);
  EXPECT_TRUE(m.rd);
  EXPECT_TRUE(m.ad);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "www.gourmet.test");
  EXPECT_EQ(TypeName(m.questions[0].qtype), "A");
  EXPECT_EQ(ClassName(m.questions[0].qclass), "C_INTERNET");
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->udp_payload_size, 1232);
  EXPECT_TRUE(m.edns->dnssec_ok);
  ASSERT_EQ(m.edns->options.size(), 1u);
  EXPECT_EQ(m.edns->options[0].code, 10);
  EXPECT_EQ(m.edns->options[0].len, 8);
  EXPECT_TRUE(LooksLikeDns(b.s, false));
}

TEST(DnsParser, AnswersOfEveryDecodedType) {
  B b = Header(7, 0x8580, 1, 8, 1, 0);
  b.name("gourmet.test").u16(255).u16(1);  // question name at offset 12
  const int q = 12;
  b.ptr(q).u16(1).u16(1).u32(300).u16(4).raw(std::string("\x0a\x4d\x00\x02", 4));
  b.ptr(q).u16(28).u16(1).u32(300).u16(16).raw(std::string("\xfd\x77", 2) + std::string(13, '\0') +
                                               "\x02");
  b.ptr(q).u16(15).u16(1).u32(60).u16(9).u16(10).u8(4).raw("mail").ptr(q);
  b.ptr(q)
      .u16(16)
      .u16(1)
      .u32(60)
      .u16(35)
      .u8(14)
      .raw("v=spf1 mx -all")
      .u8(19)
      .raw("gourmet sample zone");
  b.ptr(q).u16(5).u16(1).u32(5).u16(6).u8(3).raw("www").ptr(q);
  b.ptr(q).u16(2).u16(1).u32(5).u16(5).u8(2).raw("ns").ptr(q);
  b.ptr(q).u16(33).u16(1).u32(5).u16(12).u16(1).u16(2).u16(5060).u8(3).raw("sip").ptr(q);
  b.ptr(q).u16(99).u16(1).u32(5).u16(3).raw("xyz");
  b.ptr(q)
      .u16(6)
      .u16(1)
      .u32(5)
      .u16(32)
      .u8(2)
      .raw("ns")
      .ptr(q)
      .u8(4)
      .raw("host")
      .ptr(q)
      .u32(2026010101)
      .u32(3600)
      .u32(600)
      .u32(86400)
      .u32(300);
  Message m = ParseMessage(b.s);
  EXPECT_TRUE(m.complete) << (m.anomalies.empty() ? "" : m.anomalies[0]);
  EXPECT_TRUE(m.anomalies.empty());
  ASSERT_EQ(m.answers.size(), 8u);
  EXPECT_EQ(m.answers[0].data, "10.77.0.2");
  EXPECT_EQ(m.answers[0].ttl, 300u);
  EXPECT_EQ(m.answers[1].data, "fd77::2");
  EXPECT_EQ(m.answers[2].data, "mail.gourmet.test");
  EXPECT_EQ(m.answers[2].preference, 10);
  ASSERT_EQ(m.answers[3].txt.size(), 2u);
  EXPECT_EQ(m.answers[3].txt[1], "gourmet sample zone");
  EXPECT_EQ(m.answers[4].data, "www.gourmet.test");
  EXPECT_EQ(m.answers[5].data, "ns.gourmet.test");
  EXPECT_EQ(m.answers[6].data, "sip.gourmet.test");
  EXPECT_EQ(m.answers[6].port, 5060);
  EXPECT_FALSE(m.answers[7].decoded);
  EXPECT_EQ(m.answers[7].rdlength, 3);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].data, "ns.gourmet.test");
  EXPECT_EQ(m.authority[0].rname, "host.gourmet.test");
  EXPECT_EQ(m.authority[0].serial, 2026010101u);
  EXPECT_EQ(m.authority[0].minimum, 300u);
  EXPECT_TRUE(m.aa);
  EXPECT_TRUE(m.ra);
  EXPECT_EQ(RcodeName(m.rcode), "NOERROR");
}

TEST(DnsParser, PointerLoopsAreCut) {
  // Question name = pointer to itself, then a pointer to a pointer loop.
  B self = Header(1, 0x0100, 1, 0, 0, 0);
  self.ptr(12).u16(1).u16(1);
  Message m = ParseMessage(self.s);
  EXPECT_FALSE(m.complete);
  EXPECT_EQ(m.anomalies[0], "dns_bad_compression_pointer");
  // A label followed by a pointer back to the label: a loop through data.
  B loop = Header(1, 0x8100, 1, 1, 0, 0);
  loop.name("a").u16(1).u16(1);  // 12: "\1a\0"
  // answer name at 21: label "b" then pointer to 21 -> b.b.b.b...
  loop.u8(1).raw("b").ptr(21).u16(1).u16(1).u32(0).u16(0);
  Message m2 = ParseMessage(loop.s);
  EXPECT_FALSE(m2.complete);
  EXPECT_EQ(m2.questions.size(), 1u);  // partial result
  EXPECT_FALSE(m2.anomalies.empty());
}

TEST(DnsParser, TruncationGivesPartialResults) {
  B b = Header(9, 0x8180, 1, 2, 0, 0);
  b.name("x.test").u16(1).u16(1);
  b.ptr(12).u16(1).u16(1).u32(1).u16(4).raw("abcd");
  b.ptr(12).u16(1).u16(1).u32(1).u16(4).raw("ab");  // cut
  Message m = ParseMessage(b.s);
  EXPECT_FALSE(m.complete);
  EXPECT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.anomalies.back(), "dns_truncated_record");
  for (size_t i = 0; i < b.s.size(); ++i) ParseMessage(b.s.substr(0, i));  // no crash
  EXPECT_EQ(ParseMessage(std::string("\x00\x01", 2)).anomalies[0], "dns_truncated_header");
}

TEST(DnsParser, BadRdataIsAnAnomalyNotAFailure) {
  B b = Header(9, 0x8180, 1, 2, 0, 0);
  b.name("x.test").u16(1).u16(1);
  b.ptr(12).u16(1).u16(1).u32(1).u16(3).raw("abc");  // A with 3 bytes
  b.ptr(12).u16(1).u16(1).u32(1).u16(4).raw(std::string("\x01\x02\x03\x04", 4));
  Message m = ParseMessage(b.s);
  EXPECT_TRUE(m.complete);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_FALSE(m.answers[0].decoded);
  EXPECT_EQ(m.answers[1].data, "1.2.3.4");
  EXPECT_EQ(m.anomalies[0], "dns_bad_rdata");
}

TEST(DnsParser, NameTooLong) {
  B b = Header(1, 0x0100, 1, 0, 0, 0);
  for (int i = 0; i < 5; ++i) b.u8(63).raw(std::string(63, 'a'));
  b.u8(0).u16(1).u16(1);
  Message m = ParseMessage(b.s);
  EXPECT_EQ(m.anomalies[0], "dns_name_too_long");
}

TEST(DnsParser, TcpFramingAndMatching) {
  B q1 = Header(5, 0x0100, 1, 0, 0, 0);
  q1.name("a.test").u16(1).u16(1);
  B q2 = Header(6, 0x0100, 1, 0, 0, 0);
  q2.name("b.test").u16(28).u16(1);
  B r2 = Header(6, 0x8180, 1, 0, 0, 0);
  r2.name("b.test").u16(28).u16(1);
  B r1 = Header(5, 0x8183, 1, 0, 0, 0);
  r1.name("a.test").u16(1).u16(1);
  plugins::HalfStream orig, resp;
  B framed;
  framed.u16(static_cast<int>(q1.s.size())).raw(q1.s).u16(static_cast<int>(q2.s.size())).raw(q2.s);
  orig.Append(framed.s, 100);
  B framed_r;
  framed_r.u16(static_cast<int>(r2.s.size()))
      .raw(r2.s)
      .u16(static_cast<int>(r1.s.size()))
      .raw(r1.s);
  resp.Append(framed_r.s.substr(0, 5), 200);
  resp.Append(framed_r.s.substr(5), 300);
  std::vector<std::string> an;
  auto qs = SplitTcp(orig, {}, &an);
  auto rs = SplitTcp(resp, {}, &an);
  ASSERT_EQ(qs.size(), 2u);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_TRUE(an.empty());
  EXPECT_TRUE(LooksLikeDns(framed.s, true));
  std::vector<WireMessage> wire = {
      {100, qs[0].data}, {100, qs[1].data}, {200, rs[0].data}, {300, rs[1].data}};
  auto txs = Match(wire);
  ASSERT_EQ(txs.size(), 2u);
  EXPECT_EQ(txs[0].query->questions[0].name, "a.test");
  EXPECT_EQ(RcodeName(txs[0].response->rcode), "NXDOMAIN");
  EXPECT_EQ(txs[0].response_ts_us, 300);
  EXPECT_EQ(txs[1].response_ts_us, 200);
  // A response nobody asked for is a transaction of its own.
  auto lone = Match({{1, r1.s}});
  ASSERT_EQ(lone.size(), 1u);
  EXPECT_FALSE(lone[0].query);
  // A gap stops TCP framing.
  plugins::HalfStream gapped;
  gapped.Append(framed.s.substr(0, 10), 1);
  gapped.Append(framed.s.substr(12), 2, /*gap_before=*/2);
  an.clear();
  EXPECT_TRUE(SplitTcp(gapped, {}, &an).empty());
  EXPECT_EQ(an[0], "dns_tcp_gap");
}

TEST(DnsParser, DetectionRejectsOtherProtocols) {
  EXPECT_FALSE(LooksLikeDns("GET / HTTP/1.1\r\nHost: x\r\n\r\n", false));
  EXPECT_FALSE(LooksLikeDns(std::string("\x16\x03\x01\x00\xa0\x01\x00\x00\x9c\x03\x03", 11), true));
  EXPECT_FALSE(LooksLikeDns("", false));
}

}  // namespace
}  // namespace gourmet::dns
