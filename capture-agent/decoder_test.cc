#include "capture-agent/decoder.h"

#include <cstring>
#include <string>

#include "capture-agent/test_packets.h"
#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

using testing::BuildFrame;
using testing::PacketSpec;

DecodeResult DecodeBytes(const std::vector<uint8_t>& f, DecodedPacket* out, const char** weird,
                         int dlt = kLinkEthernet) {
  RawPacket raw{1, f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size())};
  return Decode(dlt, raw, out, weird);
}

TEST(DecoderTest, Ipv4Tcp) {
  PacketSpec s;
  s.flags = kSyn | kAck;
  s.seq = 1000;
  s.payload = "hello";
  auto f = BuildFrame(s);
  DecodedPacket p;
  const char* weird = nullptr;
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
  EXPECT_EQ(p.ip_version, 4);
  EXPECT_EQ(p.ip_proto, 6);
  EXPECT_EQ(p.sport, 40000);
  EXPECT_EQ(p.dport, 80);
  EXPECT_EQ(p.seq, 1000u);
  EXPECT_EQ(p.tcp_flags, kSyn | kAck);
  EXPECT_EQ(p.ip_len, 20u + 20u + 5u);
  ASSERT_EQ(p.payload_len, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.payload), 5), "hello");
}

TEST(DecoderTest, Ipv6UdpWithVlans) {
  PacketSpec s;
  s.src = "fd00::1";
  s.dst = "fd00::2";
  s.proto = 17;
  s.sport = 5353;
  s.dport = 53;
  s.payload = "abc";
  s.vlans = {100, 200};
  auto f = BuildFrame(s);
  DecodedPacket p;
  const char* weird = nullptr;
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
  EXPECT_EQ(p.ip_version, 6);
  EXPECT_EQ(p.vlan_count, 2);
  EXPECT_EQ(p.vlan[0], 100);
  EXPECT_EQ(p.vlan[1], 200);
  EXPECT_EQ(p.payload_len, 3u);
  EXPECT_EQ(p.ip_len, 40u + 8u + 3u);
}

TEST(DecoderTest, EthernetPaddingIsNotPayload) {
  PacketSpec s;
  s.flags = kAck;
  auto f = BuildFrame(s);
  f.resize(60, 0);  // minimum Ethernet frame: 6 bytes of padding
  DecodedPacket p;
  const char* weird = nullptr;
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
  EXPECT_EQ(p.payload_len, 0u);
  EXPECT_EQ(p.payload_wire_len, 0u);
}

TEST(DecoderTest, ArpIsNotIp) {
  std::vector<uint8_t> f(42, 0);
  f[12] = 0x08;
  f[13] = 0x06;
  DecodedPacket p;
  const char* weird = nullptr;
  EXPECT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kNotIp);
}

struct BadCase {
  const char* name;
  std::function<void(std::vector<uint8_t>&)> mutate;
  const char* weird;
};

class BadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInputTest, NamesTheAnomaly) {
  PacketSpec s;
  s.payload = "0123456789";
  auto f = BuildFrame(s);
  GetParam().mutate(f);
  DecodedPacket p;
  const char* weird = nullptr;
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kWeird);
  EXPECT_STREQ(weird, GetParam().weird);
}

INSTANTIATE_TEST_SUITE_P(
    Decoder, BadInputTest,
    ::testing::Values(
        BadCase{"short_ethernet", [](auto& f) { f.resize(10); }, "truncated_ethernet_frame"},
        BadCase{"short_ip", [](auto& f) { f.resize(14 + 12); }, "truncated_ip_header"},
        BadCase{"ihl_below_20", [](auto& f) { f[14] = 0x44; }, "bad_ip_header_len"},
        BadCase{"ihl_past_capture",
                [](auto& f) {
                  f[14] = 0x4f;
                  f.resize(14 + 40);
                },
                "truncated_ip_header"},
        BadCase{"total_len_below_ihl",
                [](auto& f) {
                  f[16] = 0;
                  f[17] = 10;
                },
                "bad_ip_total_len"},
        BadCase{"tcp_cut",
                [](auto& f) {
                  f.resize(14 + 20 + 10);
                  f[16] = 0;
                  f[17] = 30;
                },
                "truncated_tcp_header"},
        BadCase{"tcp_offset_below_5", [](auto& f) { f[14 + 20 + 12] = 0x30; },
                "bad_tcp_header_len"},
        BadCase{"tcp_offset_past_datagram", [](auto& f) { f[14 + 20 + 12] = 0xf0; },
                "bad_tcp_header_len"},
        BadCase{"bad_version", [](auto& f) { f[14] = 0x55; }, "bad_ip_version"}),
    [](const auto& info) { return std::string(info.param.name); });

// A header with 4 bytes of options, built from a plain frame.
std::vector<uint8_t> WithOptions(std::vector<uint8_t> f, std::vector<uint8_t> opts) {
  f.insert(f.begin() + 34, opts.begin(), opts.end());
  f[14] = 0x40 | static_cast<uint8_t>((20 + opts.size()) / 4);
  const uint16_t total = (f[16] << 8 | f[17]) + opts.size();
  f[16] = total >> 8;
  f[17] = total & 0xff;
  return f;
}

TEST(DecoderTest, Ipv4OptionsAreSkipped) {
  PacketSpec s;
  s.payload = "abc";
  auto f = WithOptions(BuildFrame(s), {0x94, 0x04, 0x00, 0x00});  // router alert
  DecodedPacket p;
  const char* weird = nullptr;
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
  EXPECT_EQ(p.soft_weird, nullptr);
  EXPECT_EQ(p.sport, 40000);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.payload), p.payload_len), "abc");
}

TEST(DecoderTest, ZeroLengthIpOptionIsAnAnomalyButDecodes) {
  PacketSpec s;
  s.payload = "abc";
  for (auto opts : {std::vector<uint8_t>{0x07, 0x00, 0x01, 0x01},
                    std::vector<uint8_t>{0x01, 0x01, 0x01, 0x83}}) {
    auto f = WithOptions(BuildFrame(s), opts);  // length 0; an option cut by the header end
    DecodedPacket p;
    const char* weird = nullptr;
    ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
    EXPECT_STREQ(p.soft_weird, "bad_ip_option_length");
    EXPECT_EQ(p.payload_len, 3u);
  }
}

TEST(DecoderTest, UdpLengthThatLies) {
  PacketSpec s;
  s.proto = 17;
  s.payload = "abc";
  auto f = BuildFrame(s);
  f[14 + 20 + 4] = 0x10;  // UDP length 4096+: longer than the datagram
  DecodedPacket p;
  const char* weird = nullptr;
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kWeird);
  EXPECT_STREQ(weird, "bad_udp_length");
}

TEST(DecoderTest, FragmentIsReportedNotDecoded) {
  PacketSpec s;
  s.proto = 17;
  s.payload = "abc";
  auto f = BuildFrame(s);
  f[14 + 6] = 0x20;  // MF
  DecodedPacket p;
  const char* weird = nullptr;
  EXPECT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kFragment);
}

// RFC 1071 checksum over [p, p+n) with an initial sum.
uint16_t Checksum(const uint8_t* p, size_t n, uint32_t sum) {
  for (; n > 1; n -= 2, p += 2) sum += p[0] << 8 | p[1];
  if (n) sum += p[0] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

TEST(DecoderTest, ChecksumsAreVerified) {
  PacketSpec s;
  s.payload = "data";
  auto f = BuildFrame(s);
  uint8_t* ip = f.data() + 14;
  const uint16_t ipsum = Checksum(ip, 20, 0);
  ip[10] = ipsum >> 8;
  ip[11] = ipsum & 0xff;
  // TCP checksum over the pseudo-header and the segment.
  const uint32_t seg = f.size() - 34;
  uint32_t pseudo = (ip[12] << 8 | ip[13]) + (ip[14] << 8 | ip[15]) + (ip[16] << 8 | ip[17]) +
                    (ip[18] << 8 | ip[19]) + 6 + seg;
  const uint16_t tcpsum = Checksum(ip + 20, seg, pseudo);
  ip[20 + 16] = tcpsum >> 8;
  ip[20 + 17] = tcpsum & 0xff;
  DecodedPacket p;
  const char* weird = nullptr;
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
  EXPECT_EQ(VerifyChecksums(p), nullptr);
  f.back() ^= 1;  // corrupt the payload
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
  EXPECT_STREQ(VerifyChecksums(p), "bad_tcp_checksum");
  ip[8] ^= 1;  // corrupt the TTL: the IP header checksum fails first
  ASSERT_EQ(DecodeBytes(f, &p, &weird), DecodeResult::kOk);
  EXPECT_STREQ(VerifyChecksums(p), "bad_ip_checksum");
}

TEST(DecoderTest, EveryPrefixOfAFrameIsSafe) {
  // Cutting a valid frame at every length must never read out of bounds
  // (run under ASan/valgrind) and never claim more payload than captured.
  PacketSpec s;
  s.src = "fd00::1";
  s.dst = "fd00::2";
  s.payload = std::string(64, 'x');
  const auto f = BuildFrame(s);
  for (size_t n = 0; n <= f.size(); ++n) {
    std::vector<uint8_t> cut(f.begin(), f.begin() + n);
    DecodedPacket p;
    const char* weird = nullptr;
    if (DecodeBytes(cut, &p, &weird) == DecodeResult::kOk) {
      EXPECT_LE(p.payload + p.payload_len, cut.data() + cut.size());
    }
  }
}

}  // namespace
}  // namespace gourmet::capture
