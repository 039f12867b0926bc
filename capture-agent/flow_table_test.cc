#include "capture-agent/flow_table.h"

#include <algorithm>
#include <string>
#include <vector>

#include "capture-agent/decoder.h"
#include "capture-agent/test_packets.h"
#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

using testing::BuildFrame;
using testing::PacketSpec;

// Feeds hand-built packets through the real decoder into a FlowTable and
// collects what it exports.
class FlowTableTest : public ::testing::Test {
 protected:
  FlowTableTest() { Reset(FlowTableConfig()); }

  void Reset(FlowTableConfig cfg) {
    out_.clear();
    table_ = std::make_unique<FlowTable>(
        cfg, [this](FinishedConnection&& c) { out_.push_back(ToProto(std::move(c))); });
  }

  // Client 10.0.0.1:40000 -> server 10.0.0.2:80 (or back when from_server).
  void Tcp(bool from_server, uint8_t flags, uint32_t seq, const std::string& payload = "",
           int64_t ts = -1) {
    PacketSpec s;
    if (from_server) {
      std::swap(s.src, s.dst);
      std::swap(s.sport, s.dport);
    }
    s.flags = flags;
    s.seq = seq;
    s.ack = 1;
    s.payload = payload;
    Feed(s, ts);
  }

  void Feed(const PacketSpec& s, int64_t ts = -1) {
    auto f = BuildFrame(s);
    RawPacket raw{ts >= 0 ? ts : now_, f.data(), static_cast<uint32_t>(f.size()),
                  static_cast<uint32_t>(f.size())};
    now_ = raw.ts_us + 1000;
    DecodedPacket p;
    const char* weird = nullptr;
    ASSERT_EQ(Decode(kLinkEthernet, raw, &p, &weird), DecodeResult::kOk);
    table_->Process(p);
  }

  const gourmet::v1::Connection& Only() {
    table_->FlushAll();
    EXPECT_EQ(out_.size(), 1u);
    return out_.front();
  }

  static std::string Payload(const gourmet::v1::Connection& c, gourmet::v1::Chunk::Direction dir) {
    std::string s;
    for (const auto& ch : c.chunks()) {
      if (ch.dir() == dir) s += ch.data();
    }
    return s;
  }

  // A complete handshake: client ISN 100, server ISN 500.
  void Handshake() {
    Tcp(false, kSyn, 100);
    Tcp(true, kSyn | kAck, 500);
    Tcp(false, kAck, 101);
  }

  int64_t now_ = 1'000'000'000'000;
  std::vector<gourmet::v1::Connection> out_;
  std::unique_ptr<FlowTable> table_;
};

TEST_F(FlowTableTest, CleanConnectionIsSF) {
  Handshake();
  Tcp(false, kAck | kPsh, 101, "GET / HTTP/1.1\r\n\r\n");
  Tcp(true, kAck, 501);  // the server's pure ACK: history 'a'
  Tcp(true, kAck | kPsh, 501, "HTTP/1.1 200 OK\r\n\r\n");
  Tcp(false, kAck | kFin, 119);
  Tcp(true, kAck | kFin, 520);
  Tcp(false, kAck, 120);
  const auto& c = Only();
  EXPECT_EQ(c.conn_state(), "SF");
  EXPECT_EQ(c.history(), "ShADadFf");
  EXPECT_EQ(c.orig_stats().bytes(), 18u);
  EXPECT_EQ(c.resp_stats().bytes(), 19u);
  EXPECT_EQ(c.orig_stats().pkts(), 5u);
  EXPECT_EQ(c.resp_stats().pkts(), 4u);
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "GET / HTTP/1.1\r\n\r\n");
  // Request and response are separate chunks, in order.
  ASSERT_EQ(c.chunks_size(), 2);
  EXPECT_EQ(c.chunks(0).dir(), gourmet::v1::Chunk::ORIG);
  EXPECT_EQ(c.chunks(1).dir(), gourmet::v1::Chunk::RESP);
}

TEST_F(FlowTableTest, FinsAcknowledgedBothWaysExportAtOnce) {
  Handshake();
  PacketSpec fin1;
  fin1.flags = kFin | kAck;
  fin1.seq = 101;
  fin1.ack = 501;
  Feed(fin1);
  PacketSpec fin2 = fin1;
  std::swap(fin2.src, fin2.dst);
  std::swap(fin2.sport, fin2.dport);
  fin2.seq = 501;
  fin2.ack = 102;  // acknowledges the client's FIN
  Feed(fin2);
  EXPECT_TRUE(out_.empty());
  PacketSpec last = fin1;
  last.flags = kAck;
  last.seq = 102;
  last.ack = 502;  // acknowledges the server's FIN: nothing more is due
  Feed(last);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].conn_state(), "SF");
  EXPECT_EQ(out_[0].orig_stats().pkts(), 4u);  // the final ACK is counted
  EXPECT_EQ(out_[0].end_reason(), gourmet::v1::END_FIN);
  EXPECT_EQ(table_->size(), 0u);
}

TEST_F(FlowTableTest, UnansweredSynIsS0) {
  Tcp(false, kSyn, 100);
  Tcp(false, kSyn, 100);
  const auto& c = Only();
  EXPECT_EQ(c.conn_state(), "S0");
  EXPECT_EQ(c.history(), "S");
}

TEST_F(FlowTableTest, RejectedIsREJ) {
  Tcp(false, kSyn, 100);
  Tcp(true, kRst | kAck, 0);
  EXPECT_EQ(Only().conn_state(), "REJ");
}

TEST_F(FlowTableTest, EstablishedNotClosedIsS1) {
  Handshake();
  EXPECT_EQ(Only().conn_state(), "S1");
}

TEST_F(FlowTableTest, OriginatorResetIsRSTO) {
  Handshake();
  Tcp(false, kRst, 101);
  EXPECT_EQ(Only().conn_state(), "RSTO");
}

TEST_F(FlowTableTest, ResponderResetIsRSTR) {
  Handshake();
  Tcp(true, kRst, 501);
  EXPECT_EQ(Only().conn_state(), "RSTR");
}

TEST_F(FlowTableTest, SynThenResetIsRSTOS0) {
  Tcp(false, kSyn, 100);
  Tcp(false, kRst, 101);
  const auto& c = Only();
  EXPECT_EQ(c.conn_state(), "RSTOS0");
  EXPECT_EQ(c.history(), "SR");
}

TEST_F(FlowTableTest, OriginatorClosedOnlyIsS2AndResponderClosedOnlyIsS3) {
  Handshake();
  Tcp(false, kFin | kAck, 101);
  EXPECT_EQ(Only().conn_state(), "S2");
  Reset(FlowTableConfig());
  Handshake();
  Tcp(true, kFin | kAck, 501);
  EXPECT_EQ(Only().conn_state(), "S3");
}

TEST_F(FlowTableTest, HalfOpenSynFinIsSH) {
  Tcp(false, kSyn, 100);
  Tcp(false, kFin, 101);
  EXPECT_EQ(Only().conn_state(), "SH");
}

TEST_F(FlowTableTest, MidStreamPickupIsOTHWithPayload) {
  Tcp(false, kAck | kPsh, 5000, "abc");
  Tcp(true, kAck | kPsh, 9000, "xyz");
  const auto& c = Only();
  EXPECT_EQ(c.conn_state(), "OTH");
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "abc");
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::RESP), "xyz");
}

TEST_F(FlowTableTest, SynAckFirstFlipsTheOriginator) {
  Tcp(true, kSyn | kAck, 500);  // the server's SYN-ACK; the SYN was missed
  Tcp(false, kAck, 101);
  const auto& c = Only();
  EXPECT_EQ(c.orig().port(), 40000u);
  EXPECT_EQ(c.resp().port(), 80u);
  EXPECT_EQ(c.history().substr(0, 2), "^h");
}

TEST_F(FlowTableTest, OutOfOrderSegmentsAreReordered) {
  Handshake();
  Tcp(false, kAck, 107, "world");
  Tcp(false, kAck, 101, "hello ");
  const auto& c = Only();
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "hello world");
  EXPECT_EQ(c.orig_stats().bytes(), 11u);
  EXPECT_EQ(c.orig_stats().missed_bytes(), 0u);
}

TEST_F(FlowTableTest, RetransmissionIsCountedOnceInPayload) {
  Handshake();
  Tcp(false, kAck, 101, "hello");
  Tcp(false, kAck, 101, "hello");
  const auto& c = Only();
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "hello");
  EXPECT_NE(c.history().find('T'), std::string::npos);
}

TEST_F(FlowTableTest, OverlapKeepsDataAlreadySeen) {
  Handshake();
  Tcp(false, kAck, 101, "abcd");
  Tcp(false, kAck, 103, "XXef");  // overlaps "cd" with different bytes
  EXPECT_EQ(Payload(Only(), gourmet::v1::Chunk::ORIG), "abcdef");
}

TEST_F(FlowTableTest, RetransmissionWithDifferentBytesIsAnAnomaly) {
  Handshake();
  Tcp(false, kAck, 101, "hello");
  Tcp(false, kAck, 101, "HELLO");
  const auto& c = Only();
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "hello");  // the first data wins
  ASSERT_EQ(c.weirds_size(), 1);
  EXPECT_EQ(c.weirds(0), "retransmission_inconsistency");
  EXPECT_EQ(table_->weirds().at("retransmission_inconsistency"), 1u);
}

TEST_F(FlowTableTest, IdenticalRetransmissionIsNotAnAnomaly) {
  Handshake();
  Tcp(false, kAck, 101, "hello");
  Tcp(false, kAck, 103, "llo w");  // partial overlap, same bytes
  const auto& c = Only();
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "hello w");
  EXPECT_EQ(c.weirds_size(), 0);
}

TEST_F(FlowTableTest, RetransmissionsRepeatInHistoryAtPowersOfTen) {
  Handshake();
  Tcp(false, kAck, 101, "x");
  for (int i = 0; i < 10; ++i) Tcp(false, kAck, 101, "x");
  const auto& c = Only();
  // 'T' once at the 1st retransmission and again at the 10th.
  EXPECT_EQ(std::count(c.history().begin(), c.history().end(), 'T'), 2);
}

TEST_F(FlowTableTest, MultiFlagAndInconsistentPackets) {
  Tcp(false, kSyn | kFin, 100);
  Tcp(true, kFin | kRst, 500);
  const auto& c = Only();
  EXPECT_NE(c.history().find('Q'), std::string::npos);
  EXPECT_NE(c.history().find('i'), std::string::npos);
}

TEST_F(FlowTableTest, GapIsMissedBytes) {
  Handshake();
  Tcp(false, kAck, 101, "abc");
  Tcp(false, kAck, 110, "xyz");  // bytes 104..109 never seen
  const auto& c = Only();
  EXPECT_EQ(c.orig_stats().missed_bytes(), 6u);
  EXPECT_EQ(c.orig_stats().bytes(), 12u);
  EXPECT_NE(c.history().find('G'), std::string::npos);
  ASSERT_EQ(c.chunks_size(), 2);
  EXPECT_EQ(c.chunks(1).gap_before(), 6u);
  EXPECT_EQ(c.chunks(1).data(), "xyz");
}

TEST_F(FlowTableTest, SequenceWraparound) {
  Tcp(false, kSyn, 0xfffffffd);
  Tcp(true, kSyn | kAck, 500);
  Tcp(false, kAck, 0xfffffffe, "ab");  // relative 0..1
  Tcp(false, kAck, 0x00000000, "cd");  // wrapped: relative 2..3
  const auto& c = Only();
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "abcd");
  EXPECT_EQ(c.orig_stats().bytes(), 4u);
}

TEST_F(FlowTableTest, PayloadDepthCapsWhatIsKept) {
  FlowTableConfig cfg;
  cfg.payload_depth = 4;
  Reset(cfg);
  Handshake();
  Tcp(false, kAck, 101, "abcdefgh");
  const auto& c = Only();
  EXPECT_EQ(Payload(c, gourmet::v1::Chunk::ORIG), "abcd");
  EXPECT_EQ(c.orig_stats().truncated_bytes(), 4u);
  EXPECT_EQ(c.orig_stats().bytes(), 8u);
  EXPECT_EQ(table_->stats().payload_truncated, 4u);
}

TEST_F(FlowTableTest, UdpKeepsDatagramBoundaries) {
  PacketSpec q;
  q.proto = 17;
  q.sport = 5000;
  q.dport = 53;
  q.payload = "query";
  Feed(q);
  Feed(q);
  PacketSpec r = q;
  std::swap(r.src, r.dst);
  std::swap(r.sport, r.dport);
  r.payload = "answer";
  Feed(r);
  const auto& c = Only();
  EXPECT_EQ(c.conn_state(), "SF");
  ASSERT_EQ(c.chunks_size(), 3);
  EXPECT_EQ(c.chunks(0).data(), "query");
  EXPECT_EQ(c.chunks(1).data(), "query");
  EXPECT_EQ(c.chunks(2).data(), "answer");
  EXPECT_EQ(c.orig_stats().bytes(), 10u);
  EXPECT_EQ(c.history(), "Dd");
}

TEST_F(FlowTableTest, InactivityTimeoutUsesPacketTime) {
  PacketSpec u;
  u.proto = 17;
  u.payload = "x";
  Feed(u, 1'000'000'000);
  PacketSpec other = u;
  other.sport = 40001;
  // 61 s later (packet time) the first flow has expired.
  Feed(other, 1'000'000'000 + 61'000'000);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].orig().port(), 40000u);
  EXPECT_EQ(out_[0].end_reason(), gourmet::v1::END_INACTIVITY);
}

TEST_F(FlowTableTest, ClosedConnectionsLeaveAfterCloseDelay) {
  Handshake();
  Tcp(false, kFin | kAck, 101);
  Tcp(true, kFin | kAck, 501);
  PacketSpec other;
  other.sport = 41000;
  other.flags = kSyn;
  Feed(other, now_ + 6'000'000);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].end_reason(), gourmet::v1::END_FIN);
}

TEST_F(FlowTableTest, FlowCapEvictsTheOldestAndCountsIt) {
  FlowTableConfig cfg;
  cfg.max_flows = 2;
  Reset(cfg);
  for (uint16_t port = 1; port <= 3; ++port) {
    PacketSpec s;
    s.proto = 17;
    s.sport = port;
    Feed(s);
  }
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].orig().port(), 1u);
  EXPECT_EQ(out_[0].end_reason(), gourmet::v1::END_EVICTED);
  EXPECT_EQ(table_->stats().flows_evicted, 1u);
  EXPECT_EQ(table_->size(), 2u);
}

TEST_F(FlowTableTest, SameSeedSameUid) {
  FlowTableConfig cfg;
  cfg.uid_seed = 42;
  std::vector<std::string> uids;
  for (int run = 0; run < 2; ++run) {
    Reset(cfg);
    Handshake();
    uids.push_back(Only().uid());
  }
  EXPECT_EQ(uids[0], uids[1]);
  cfg.uid_seed = 43;
  Reset(cfg);
  Handshake();
  EXPECT_NE(Only().uid(), uids[0]);
}

TEST(FlowKeyTest, BothDirectionsShareAKey) {
  DecodedPacket a{}, b{};
  a.ip_version = b.ip_version = 4;
  a.ip_proto = b.ip_proto = 6;
  a.src[0] = 10;
  a.dst[0] = 11;
  b.src[0] = 11;
  b.dst[0] = 10;
  a.sport = b.dport = 1234;
  a.dport = b.sport = 80;
  bool fa, fb;
  EXPECT_TRUE(MakeFlowKey(a, &fa) == MakeFlowKey(b, &fb));
  EXPECT_NE(fa, fb);
}

}  // namespace
}  // namespace gourmet::capture
