#include "log-sink/durable_log.h"

#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>

#include "gtest/gtest.h"
#include "log-sink/record_format.h"

namespace gourmet::sink {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status AppendSync(DurableLog& log, std::vector<std::pair<std::string, std::string>> lines) {
  std::promise<absl::Status> done;
  log.Append(std::move(lines), [&done](const absl::Status& st) { done.set_value(st); });
  return done.get_future().get();
}

class DurableLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/durable_log_test_" + std::to_string(getpid()) + ".log";
    unlink(path_.c_str());
  }
  void TearDown() override { unlink(path_.c_str()); }
  std::string path_;
};

TEST_F(DurableLogTest, AppendsLinesAndDropsResentUids) {
  auto log = DurableLog::Open(path_, FsyncPolicy::kGroup);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(AppendSync(**log, {{"C1", R"({"uid":"C1"})"}, {"C2", R"({"uid":"C2"})"}}).ok());
  ASSERT_TRUE(AppendSync(**log, {{"C2", R"({"uid":"C2"})"}, {"C3", R"({"uid":"C3"})"}}).ok());
  EXPECT_EQ((*log)->records(), 3u);
  EXPECT_EQ((*log)->duplicates(), 1u);
  EXPECT_EQ(ReadFile(path_), "{\"uid\":\"C1\"}\n{\"uid\":\"C2\"}\n{\"uid\":\"C3\"}\n");
}

TEST_F(DurableLogTest, RecoveryCutsATornLineAndRemembersUids) {
  std::ofstream(path_) << "{\"ts\":1.0,\"uid\":\"C1\"}\n{\"ts\":2.0,\"uid\":\"C2\",\"hist";
  auto log = DurableLog::Open(path_, FsyncPolicy::kGroup);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->records(), 1u);
  EXPECT_GT((*log)->recovered_bytes_cut(), 0u);
  // C1 is already there: a resend is dropped; C2 was torn: it is written again.
  ASSERT_TRUE(AppendSync(**log, {{"C1", "{\"ts\":1.0,\"uid\":\"C1\"}"},
                                 {"C2", "{\"ts\":2.0,\"uid\":\"C2\"}"}})
                  .ok());
  EXPECT_EQ(ReadFile(path_), "{\"ts\":1.0,\"uid\":\"C1\"}\n{\"ts\":2.0,\"uid\":\"C2\"}\n");
}

TEST_F(DurableLogTest, UnwritablePathIsAClearError) {
  auto log = DurableLog::Open("/nonexistent-dir/x.log", FsyncPolicy::kGroup);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("cannot open log '/nonexistent-dir/x.log'"),
            std::string::npos);
}

TEST(RecordFormatTest, ZeekFieldNamesAndOrder) {
  gourmet::v1::Record r;
  auto* c = r.mutable_conn();
  c->set_uid("CAbc");
  c->set_community_id("1:xyz=");
  c->set_ts_us(1796397424947038);
  c->set_last_ts_us(1796397424947038 + 42100);
  c->set_ip_proto(6);
  c->mutable_orig()->set_addr(std::string("\x0a\x00\x00\x01", 4));
  c->mutable_orig()->set_port(51234);
  c->mutable_resp()->set_addr(std::string(15, '\0') + "\x01");
  c->mutable_resp()->set_port(80);
  c->mutable_orig_stats()->set_bytes(412);
  c->mutable_orig_stats()->set_pkts(6);
  c->mutable_orig_stats()->set_ip_bytes(732);
  c->set_conn_state("SF");
  c->set_history("ShADadfF");
  c->set_sensor("node-1");
  r.add_services("http");
  (*r.mutable_results())["http"] = "[{\"method\":\"GET\"}]";
  (*r.mutable_errors())["tls"] = "boom";
  EXPECT_EQ(RenderRecord(r),
            "{\"ts\":1796397424.947038,\"uid\":\"CAbc\",\"community_id\":\"1:xyz=\","
            "\"id\":{\"orig_h\":\"10.0.0.1\",\"orig_p\":51234,\"resp_h\":\"::1\",\"resp_p\":80},"
            "\"proto\":\"tcp\",\"service\":[\"http\"],\"duration\":0.042100,\"orig_bytes\":412,"
            "\"resp_bytes\":0,"
            "\"orig_pkts\":6,\"resp_pkts\":0,\"orig_ip_bytes\":732,\"resp_ip_bytes\":0,\"missed_"
            "bytes\":0,"
            "\"conn_state\":\"SF\",\"history\":\"ShADadfF\",\"sensor\":\"node-1\","
            "\"http\":[{\"method\":\"GET\"}],\"_errors\":{\"tls\":\"boom\"}}");
}

}  // namespace
}  // namespace gourmet::sink
