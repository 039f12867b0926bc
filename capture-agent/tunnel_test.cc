// Tunnels: the worker decodes the inner packet of IP-in-IP, GRE, VXLAN and
// Teredo and tracks it as its own connection with the tunnel as its parent.
#include <string>
#include <vector>

#include "capture-agent/test_packets.h"
#include "capture-agent/worker.h"
#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

using testing::BuildFrame;
using testing::PacketSpec;

std::vector<uint8_t> Inner() {
  PacketSpec in;
  in.src = "192.168.0.1";
  in.dst = "192.168.0.2";
  in.proto = 6;
  in.flags = kSyn;
  in.sport = 1234;
  in.dport = 443;
  return BuildFrame(in);
}

// The inner packet without its Ethernet header.
std::string InnerIp() {
  const auto f = Inner();
  return std::string(f.begin() + 14, f.end());
}

std::vector<gourmet::v1::Connection> RunOuter(const PacketSpec& outer) {
  std::vector<gourmet::v1::Connection> out;
  Worker w(FlowTableConfig(), DefragConfig(),
           [&](FinishedConnection&& c) { out.push_back(ToProto(std::move(c))); });
  const auto f = BuildFrame(outer);
  w.Handle(
      1, RawPacket{1, f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size())});
  w.FlushAll();
  return out;
}

void ExpectInnerWithParent(const std::vector<gourmet::v1::Connection>& conns,
                           uint32_t outer_proto) {
  ASSERT_EQ(conns.size(), 2u);
  const gourmet::v1::Connection* outer = nullptr;
  const gourmet::v1::Connection* inner = nullptr;
  for (const auto& c : conns)
    (c.ip_proto() == outer_proto && c.resp().port() != 443 ? outer : inner) = &c;
  ASSERT_NE(outer, nullptr);
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->ip_proto(), 6u);
  EXPECT_EQ(inner->resp().port(), 443u);
  ASSERT_EQ(inner->tunnel_parents_size(), 1);
  EXPECT_EQ(inner->tunnel_parents(0), outer->uid());
}

TEST(TunnelTest, IpInIp) {
  PacketSpec outer;
  outer.proto = 4;
  outer.payload = InnerIp();
  ExpectInnerWithParent(RunOuter(outer), 4);
}

TEST(TunnelTest, Gre) {
  PacketSpec outer;
  outer.proto = 47;
  outer.payload = std::string("\x00\x00\x08\x00", 4) + InnerIp();
  ExpectInnerWithParent(RunOuter(outer), 47);
}

TEST(TunnelTest, GreWithKeyAndTransparentEthernet) {
  PacketSpec outer;
  outer.proto = 47;
  const auto f = Inner();
  outer.payload = std::string("\x20\x00\x65\x58", 4) + std::string("\x00\x00\x00\x07", 4) +
                  std::string(f.begin(), f.end());
  ExpectInnerWithParent(RunOuter(outer), 47);
}

TEST(TunnelTest, Vxlan) {
  PacketSpec outer;
  outer.proto = 17;
  outer.sport = 50000;
  outer.dport = 4789;
  const auto f = Inner();
  outer.payload =
      std::string("\x08\x00\x00\x00\x00\x00\x2a\x00", 8) + std::string(f.begin(), f.end());
  ExpectInnerWithParent(RunOuter(outer), 17);
}

TEST(TunnelTest, Teredo) {
  PacketSpec in6;
  in6.src = "2001::1";
  in6.dst = "2001::2";
  in6.flags = kSyn;
  in6.sport = 1234;
  in6.dport = 443;
  const auto f = BuildFrame(in6);
  PacketSpec outer;
  outer.proto = 17;
  outer.sport = 3544;
  outer.dport = 40000;
  outer.payload = std::string(f.begin() + 14, f.end());
  ExpectInnerWithParent(RunOuter(outer), 17);
}

TEST(TunnelTest, MplsStack) {
  // Two labels, then IPv4.
  auto f = Inner();
  std::vector<uint8_t> m(f.begin(), f.begin() + 12);
  m.insert(m.end(), {0x88, 0x47, 0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40});
  m.insert(m.end(), f.begin() + 14, f.end());
  std::vector<gourmet::v1::Connection> out;
  Worker w(FlowTableConfig(), DefragConfig(),
           [&](FinishedConnection&& c) { out.push_back(ToProto(std::move(c))); });
  w.Handle(
      1, RawPacket{1, m.data(), static_cast<uint32_t>(m.size()), static_cast<uint32_t>(m.size())});
  w.FlushAll();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].resp().port(), 443u);
}

}  // namespace
}  // namespace gourmet::capture
