#include "capture-agent/community_id.h"

#include <arpa/inet.h>

#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

struct V4 {
  uint8_t b[4];
  explicit V4(const char* s) { inet_pton(AF_INET, s, b); }
};

// Vectors published with the community-id spec.
TEST(CommunityIdTest, SpecTcpVector) {
  V4 src("128.232.110.120"), dst("66.35.250.204");
  EXPECT_EQ(CommunityId(0, 6, src.b, dst.b, 4, 34855, 80), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
}

TEST(CommunityIdTest, SpecUdpVector) {
  V4 src("192.168.1.52"), dst("8.8.8.8");
  EXPECT_EQ(CommunityId(0, 17, src.b, dst.b, 4, 54585, 53), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
}

TEST(CommunityIdTest, BothDirectionsGiveTheSameId) {
  V4 a("128.232.110.120"), b("66.35.250.204");
  EXPECT_EQ(CommunityId(0, 6, a.b, b.b, 4, 34855, 80), CommunityId(0, 6, b.b, a.b, 4, 80, 34855));
  V4 c("192.168.1.52"), d("8.8.8.8");
  EXPECT_EQ(CommunityId(0, 17, c.b, d.b, 4, 54585, 53), CommunityId(0, 17, d.b, c.b, 4, 53, 54585));
}

TEST(CommunityIdTest, SeedChangesTheId) {
  V4 src("128.232.110.120"), dst("66.35.250.204");
  EXPECT_NE(CommunityId(1, 6, src.b, dst.b, 4, 34855, 80),
            CommunityId(0, 6, src.b, dst.b, 4, 34855, 80));
}

TEST(CommunityIdTest, IcmpEchoRequestAndReplyMatch) {
  V4 a("10.0.0.1"), b("10.0.0.2");
  // Request type 8 code 0 one way, reply type 0 code 0 back.
  EXPECT_EQ(CommunityId(0, 1, a.b, b.b, 4, 8, 0), CommunityId(0, 1, b.b, a.b, 4, 0, 0));
}

}  // namespace
}  // namespace gourmet::capture
