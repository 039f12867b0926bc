#include "capture-agent/defrag.h"

#include <string>
#include <vector>

#include "capture-agent/decoder.h"
#include "capture-agent/test_packets.h"
#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

using testing::BuildFrame;
using testing::PacketSpec;

// Splits the IPv4 datagram of `frame` into fragments of `size` payload bytes
// (a multiple of 8), returned as Ethernet frames.
std::vector<std::vector<uint8_t>> Fragment4(const std::vector<uint8_t>& frame, size_t size) {
  const size_t ihl = 20;
  const uint8_t* ip = frame.data() + 14;
  const size_t payload = frame.size() - 14 - ihl;
  std::vector<std::vector<uint8_t>> out;
  for (size_t off = 0; off < payload; off += size) {
    const size_t n = std::min(size, payload - off);
    std::vector<uint8_t> f(frame.begin(), frame.begin() + 14 + ihl);
    f.insert(f.end(), ip + ihl + off, ip + ihl + off + n);
    const uint16_t total = ihl + n;
    f[14 + 2] = total >> 8;
    f[14 + 3] = total & 0xff;
    const uint16_t flags = (off / 8) | (off + n < payload ? 0x2000 : 0);
    f[14 + 4] = 0x12;  // id
    f[14 + 5] = 0x34;
    f[14 + 6] = flags >> 8;
    f[14 + 7] = flags & 0xff;
    out.push_back(std::move(f));
  }
  return out;
}

class DefragTest : public ::testing::Test {
 protected:
  Defragmenter::Result Add(const std::vector<uint8_t>& f, int64_t ts = 1000) {
    RawPacket raw{ts, f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size())};
    const char* w = nullptr;
    EXPECT_EQ(Decode(kLinkEthernet, raw, &pkt_, &w), DecodeResult::kFragment);
    weird_ = nullptr;
    return defrag_.Add(pkt_, &datagram_, &weird_);
  }

  std::vector<uint8_t> Original(size_t payload = 100) {
    PacketSpec s;
    s.proto = 17;
    s.sport = 1000;
    s.dport = 2000;
    for (size_t i = 0; i < payload; ++i) s.payload.push_back(static_cast<char>('a' + i % 26));
    return BuildFrame(s);
  }

  void ExpectDatagramEquals(const std::vector<uint8_t>& frame) {
    DecodedPacket whole, rebuilt;
    const char* w = nullptr;
    RawPacket raw{0, frame.data(), static_cast<uint32_t>(frame.size()),
                  static_cast<uint32_t>(frame.size())};
    ASSERT_EQ(Decode(kLinkEthernet, raw, &whole, &w), DecodeResult::kOk);
    ASSERT_EQ(DecodeIp(reinterpret_cast<const uint8_t*>(datagram_.data()), datagram_.size(),
                       &rebuilt, &w),
              DecodeResult::kOk);
    EXPECT_EQ(rebuilt.sport, 1000);
    EXPECT_EQ(rebuilt.ip_len, whole.ip_len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(rebuilt.payload), rebuilt.payload_len),
              std::string(reinterpret_cast<const char*>(whole.payload), whole.payload_len));
  }

  Defragmenter defrag_{DefragConfig()};
  DecodedPacket pkt_;
  std::string_view datagram_;
  const char* weird_ = nullptr;
};

TEST_F(DefragTest, InOrder) {
  const auto orig = Original();
  const auto frags = Fragment4(orig, 48);
  ASSERT_EQ(frags.size(), 3u);
  EXPECT_EQ(Add(frags[0]), Defragmenter::Result::kIncomplete);
  EXPECT_EQ(Add(frags[1]), Defragmenter::Result::kIncomplete);
  ASSERT_EQ(Add(frags[2]), Defragmenter::Result::kComplete);
  ExpectDatagramEquals(orig);
  EXPECT_EQ(defrag_.pending(), 0u);
}

TEST_F(DefragTest, ReverseOrderAndDuplicates) {
  const auto orig = Original(200);
  const auto frags = Fragment4(orig, 64);
  EXPECT_EQ(Add(frags[3]), Defragmenter::Result::kIncomplete);
  EXPECT_EQ(Add(frags[2]), Defragmenter::Result::kIncomplete);
  EXPECT_EQ(Add(frags[2]), Defragmenter::Result::kIncomplete);
  EXPECT_STREQ(weird_, "fragment_overlap");
  EXPECT_EQ(Add(frags[1]), Defragmenter::Result::kIncomplete);
  ASSERT_EQ(Add(frags[0]), Defragmenter::Result::kComplete);
  ExpectDatagramEquals(orig);
}

TEST_F(DefragTest, OverlapWithDifferentBytesKeepsTheFirstAndIsInconsistent) {
  const auto orig = Original();
  auto frags = Fragment4(orig, 48);
  auto evil = frags[1];
  evil[14 + 20 + 5] ^= 0xff;  // a different byte inside fragment 1
  EXPECT_EQ(Add(frags[1]), Defragmenter::Result::kIncomplete);
  EXPECT_EQ(Add(evil), Defragmenter::Result::kIncomplete);
  EXPECT_STREQ(weird_, "fragment_inconsistency");
  EXPECT_EQ(Add(frags[0]), Defragmenter::Result::kIncomplete);
  ASSERT_EQ(Add(frags[2]), Defragmenter::Result::kComplete);
  ExpectDatagramEquals(orig);  // the first-seen bytes won
}

TEST_F(DefragTest, IncompleteDatagramsTimeOut) {
  const auto frags = Fragment4(Original(), 48);
  Add(frags[0], 1'000'000);
  EXPECT_EQ(defrag_.pending(), 1u);
  Add(Fragment4(Original(), 48)[1],
      1'000'000 + 31'000'000);  // another datagram? same id: new after expiry
  EXPECT_EQ(defrag_.stats().timed_out, 1u);
}

TEST_F(DefragTest, MemoryCapDropsTheOldest) {
  Defragmenter small(DefragConfig{4096, absl::Seconds(30)});
  auto frags = Fragment4(Original(), 48);
  for (int id = 0; id < 64; ++id) {
    auto f = frags[0];
    f[14 + 4] = id;
    RawPacket raw{1, f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size())};
    const char* w = nullptr;
    ASSERT_EQ(Decode(kLinkEthernet, raw, &pkt_, &w), DecodeResult::kFragment);
    small.Add(pkt_, &datagram_, &w);
  }
  EXPECT_LE(small.bytes(), 4096u + 2048u);  // at most one datagram over the cap
  EXPECT_GT(small.stats().evicted, 0u);
}

TEST_F(DefragTest, OversizedDatagramIsRefused) {
  auto frags = Fragment4(Original(), 48);
  auto f = frags[2];
  f[14 + 6] = 0x1f;  // offset 8191*8: beyond 65535
  f[14 + 7] = 0xff;
  EXPECT_EQ(Add(f), Defragmenter::Result::kWeird);
  EXPECT_STREQ(weird_, "fragment_too_large");
}

}  // namespace
}  // namespace gourmet::capture
