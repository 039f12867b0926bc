// The LogSink service over real gRPC in this process: ingest with merging
// and acknowledgements, Query, Tail, Stats, bad queries, and shutdown.
#include "log-sink/sink_server.h"

#include <unistd.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "gtest/gtest.h"
#include "log-sink/test_records.h"
#include "services/grpc_util.h"

namespace gourmet::sink {
namespace {

using gourmet::v1::QueryRequest;
using ::testing::HasSubstr;

class SinkServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/sink_server_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Start(SinkConfig c = SinkConfig()) {
    c.listen = "127.0.0.1:0";
    c.metrics_listen = "";
    c.log_path = dir_ + "/g.log";
    auto s = SinkServer::Start(c, std::make_shared<prometheus::Registry>());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    stub_ = gourmet::v1::LogSink::NewStub(MakeChannel(absl::StrCat("127.0.0.1:", server_->port())));
  }

  // Sends batches on one stream and returns the acks' errors, in order.
  std::vector<std::string> Ingest(std::vector<gourmet::v1::IngestBatch> batches) {
    grpc::ClientContext ctx;
    auto stream = stub_->Ingest(&ctx);
    for (size_t i = 0; i < batches.size(); ++i) {
      batches[i].set_batch_id(i + 1);
      EXPECT_TRUE(stream->Write(batches[i]));
    }
    stream->WritesDone();
    std::vector<std::string> errors(batches.size(), "no ack");
    gourmet::v1::IngestAck ack;
    while (stream->Read(&ack)) errors[ack.batch_id() - 1] = ack.error();
    EXPECT_TRUE(stream->Finish().ok());
    return errors;
  }

  gourmet::v1::IngestBatch Batch(uint64_t first, uint64_t n, const std::string& part = "analysis") {
    gourmet::v1::IngestBatch b;
    for (uint64_t i = first; i < first + n; ++i)
      *b.add_records() = testing::TestRecord(i, testing::TestUid("S", i), part);
    return b;
  }

  grpc::Status Query(const QueryRequest& req, std::vector<std::string>* lines) {
    grpc::ClientContext ctx;
    auto reader = stub_->Query(&ctx, req);
    gourmet::v1::QueryResult r;
    while (reader->Read(&r)) lines->push_back(r.json());
    return reader->Finish();
  }

  gourmet::v1::StatsReply Stats() {
    grpc::ClientContext ctx;
    gourmet::v1::StatsReply r;
    EXPECT_TRUE(stub_->Stats(&ctx, gourmet::v1::StatsRequest(), &r).ok());
    return r;
  }

  std::string dir_;
  std::unique_ptr<SinkServer> server_;
  std::unique_ptr<gourmet::v1::LogSink::Stub> stub_;
};

TEST_F(SinkServerTest, IngestsQueriesAndDropsResends) {
  Start();
  EXPECT_THAT(Ingest({Batch(0, 100), Batch(100, 100)}), ::testing::Each(""));
  EXPECT_THAT(Ingest({Batch(150, 100)}), ::testing::Each(""));  // half resent
  EXPECT_EQ(server_->records(), 250u);
  auto s = Stats();
  EXPECT_EQ(s.records(), 250u);
  EXPECT_EQ(s.segments(), 1u);
  EXPECT_EQ(s.duplicates_dropped(), 50u);
  EXPECT_EQ(s.oldest_us(), testing::kBaseTsUs);
  EXPECT_GT(s.bytes(), 250u * 300);
  EXPECT_EQ(s.active_segment(), dir_ + "/g.log");

  std::vector<std::string> lines;
  QueryRequest q;
  q.set_service("dns");
  q.set_limit(5);
  q.set_order(QueryRequest::TS_DESC);
  ASSERT_TRUE(Query(q, &lines).ok());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_THAT(lines[0], HasSubstr(testing::TestUid("S", 248)));
  lines.clear();
  q.Clear();
  q.set_uid(testing::TestUid("S", 42));
  ASSERT_TRUE(Query(q, &lines).ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr(R"("uid":")" + testing::TestUid("S", 42) + "\""));
}

TEST_F(SinkServerTest, MergesPartsFromTwoPoolsAndMarksWhatIsMissing) {
  SinkConfig c;
  c.merge.parts = {"analysis", "dns"};
  c.merge.window = absl::Milliseconds(300);
  Start(c);
  // The dns pool sees only records 0-4; the analysis pool sees 0-9.
  std::thread dns([&] { EXPECT_THAT(Ingest({Batch(0, 5, "dns")}), ::testing::Each("")); });
  const absl::Time t0 = absl::Now();
  EXPECT_THAT(Ingest({Batch(0, 10, "analysis")}), ::testing::Each(""));
  dns.join();
  // Acknowledged only once every record of the batch was written: the
  // incomplete ones after the window.
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(250));
  EXPECT_EQ(server_->records(), 10u);
  std::vector<std::string> lines;
  QueryRequest q;
  q.add_where("_missing exists");
  ASSERT_TRUE(Query(q, &lines).ok());
  EXPECT_EQ(lines.size(), 5u);
  EXPECT_THAT(lines[0], HasSubstr(R"("_missing":["dns"])"));
  lines.clear();
  q.Clear();
  q.set_uid(testing::TestUid("S", 2));
  ASSERT_TRUE(Query(q, &lines).ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], ::testing::Not(HasSubstr("_missing")));
  auto s = Stats();
  EXPECT_EQ(s.incomplete(), 5u);
  EXPECT_EQ(s.pending_parts(), 0u);
  // A resend of a part already merged is dropped.
  EXPECT_THAT(Ingest({Batch(0, 5, "dns")}), ::testing::Each(""));
  EXPECT_EQ(server_->records(), 10u);
}

TEST_F(SinkServerTest, BadQueriesAreInvalidArgumentWithAMessage) {
  Start();
  std::vector<std::string> lines;
  QueryRequest q;
  q.add_where("orig_bytes > lots");
  grpc::Status st = Query(q, &lines);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("'>' compares numbers"));
  q.Clear();
  q.set_proto("tcpp");
  st = Query(q, &lines);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("proto 'tcpp'"));
  q.Clear();
  q.set_tail_backlog(3);
  EXPECT_EQ(Query(q, &lines).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SinkServerTest, TailFollowsWithFiltersAndBacklog) {
  Start();
  ASSERT_THAT(Ingest({Batch(0, 40)}), ::testing::Each(""));
  grpc::ClientContext ctx;
  QueryRequest q;
  q.set_service("dns");
  q.set_tail_backlog(2);
  q.set_limit(5);
  auto reader = stub_->Tail(&ctx, q);
  std::vector<std::string> lines;
  gourmet::v1::QueryResult r;
  // The backlog arrives before anything new is written.
  ASSERT_TRUE(reader->Read(&r));
  lines.push_back(r.json());
  ASSERT_TRUE(reader->Read(&r));
  lines.push_back(r.json());
  ASSERT_THAT(Ingest({Batch(40, 40)}), ::testing::Each(""));
  while (reader->Read(&r)) lines.push_back(r.json());
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_THAT(lines[0], HasSubstr(testing::TestUid("S", 37)));  // dns records: 6,7,8 of each 10
  EXPECT_THAT(lines[1], HasSubstr(testing::TestUid("S", 38)));
  EXPECT_THAT(lines[2], HasSubstr(testing::TestUid("S", 46)));
  for (const auto& l : lines) EXPECT_THAT(l, HasSubstr(R"("service":["dns"])"));
}

TEST_F(SinkServerTest, ShutdownEndsOpenTails) {
  Start();
  grpc::ClientContext ctx;
  auto reader = stub_->Tail(&ctx, QueryRequest());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const absl::Time t0 = absl::Now();
  server_->Shutdown();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3));
  gourmet::v1::QueryResult r;
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SinkServerTest, RestartKeepsEverythingAndItsUids) {
  SinkConfig c;
  c.rotate_bytes = 16 << 10;
  Start(c);
  // One write group can only go into one segment: one batch at a time.
  for (int i = 0; i < 10; ++i) ASSERT_THAT(Ingest({Batch(30 * i, 30)}), ::testing::Each(""));
  server_.reset();
  Start(c);
  EXPECT_EQ(server_->records(), 300u);
  EXPECT_GT(Stats().segments(), 3u);
  ASSERT_THAT(Ingest({Batch(250, 100)}), ::testing::Each(""));
  EXPECT_EQ(server_->records(), 350u);
}

TEST(SinkConfigTest, KeysAndSizes) {
  uint64_t v;
  EXPECT_TRUE(ParseSize("256MiB", &v));
  EXPECT_EQ(v, 256ull << 20);
  EXPECT_TRUE(ParseSize("10GB", &v));
  EXPECT_EQ(v, 10000000000ull);
  EXPECT_TRUE(ParseSize("4096", &v));
  EXPECT_EQ(v, 4096u);
  EXPECT_FALSE(ParseSize("lots", &v));
  EXPECT_FALSE(ParseSize("5 parsecs", &v));
  YAML::Node n = YAML::Load(
      "fsync: interval\nfsync_interval: 250ms\nrotate: {max_bytes: 64MiB, max_age: 30m}\n"
      "retention: {max_bytes: 10GiB, max_age: 168h}\nmerge: {parts: [analysis, dns], window: "
      "5s}\n");
  ConfigReader r(n);
  auto c = SinkConfigFromYaml(&r);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(r.Finish().ok()) << r.Finish();
  EXPECT_EQ(c->fsync, FsyncPolicy::kInterval);
  EXPECT_EQ(c->fsync_interval, absl::Milliseconds(250));
  EXPECT_EQ(c->rotate_bytes, 64ull << 20);
  EXPECT_EQ(c->rotate_age, absl::Minutes(30));
  EXPECT_EQ(c->retain_bytes, 10ull << 30);
  EXPECT_EQ(c->retain_age, absl::Hours(168));
  EXPECT_EQ(c->merge.parts, (std::vector<std::string>{"analysis", "dns"}));
  EXPECT_EQ(c->merge.window, absl::Seconds(5));
  ConfigReader bad(YAML::Load("fsync: sometimes\n"));
  SinkConfigFromYaml(&bad).IgnoreError();
  EXPECT_THAT(std::string(bad.Finish().message()), HasSubstr("'sometimes' is not a policy"));
  ConfigReader bad2(YAML::Load("merge: {parts: [a, a]}\n"));
  SinkConfigFromYaml(&bad2).IgnoreError();
  EXPECT_THAT(std::string(bad2.Finish().message()), HasSubstr("listed twice"));
}

}  // namespace
}  // namespace gourmet::sink
