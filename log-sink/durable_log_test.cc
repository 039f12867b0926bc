// The durable log: idempotent appends, rotation by size and age, retention
// by size and age, crash recovery (torn lines, interrupted rotations,
// damaged indexes), fsync policies, and the record format.
#include "log-sink/durable_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "log-sink/record_format.h"

namespace gourmet::sink {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

LogEntry Entry(const std::string& uid, int64_t ts_us = 1000000, const std::string& cid = "") {
  LogEntry e;
  e.uid = uid;
  e.community_id = cid;
  e.ts_us = ts_us;
  e.json = absl::StrFormat(R"({"ts":%d.%06d,"uid":"%s","community_id":"%s","pad":"%s"})",
                           ts_us / 1000000, ts_us % 1000000, uid, cid, std::string(60, 'x'));
  return e;
}

absl::Status AppendSync(DurableLog& log, std::vector<LogEntry> entries) {
  std::promise<absl::Status> done;
  log.Append(std::move(entries), [&done](const absl::Status& st) { done.set_value(st); });
  return done.get_future().get();
}

// Every line of the log, oldest segment first, as a reader sees it.
std::vector<std::string> Lines(const DurableLog& log) {
  std::vector<std::string> out;
  for (const SegmentRef& s : log.snapshot().segments) {
    for (absl::string_view l : absl::StrSplit(absl::string_view(s.text().data(), s.text().size()),
                                              '\n', absl::SkipEmpty()))
      out.emplace_back(l);
  }
  return out;
}

class DurableLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/durable_log_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/gourmet.log";
  }
  void TearDown() override { fs::remove_all(dir_); }

  LogOptions Options() {
    LogOptions o;
    o.path = path_;
    o.now = [this] { return now_; };
    return o;
  }
  std::vector<std::string> Files() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_, path_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(DurableLogTest, AppendsLinesAndDropsResentUids) {
  auto log = DurableLog::Open(path_, FsyncPolicy::kGroup);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(AppendSync(**log, {Entry("C1"), Entry("C2")}).ok());
  // A resend, and a uid twice in one append.
  ASSERT_TRUE(AppendSync(**log, {Entry("C2"), Entry("C3"), Entry("C3")}).ok());
  EXPECT_EQ((*log)->records(), 3u);
  EXPECT_EQ((*log)->duplicates(), 2u);
  EXPECT_EQ(ReadFile(path_),
            Entry("C1").json + "\n" + Entry("C2").json + "\n" + Entry("C3").json + "\n");
  EXPECT_TRUE((*log)->Contains("C2"));
  EXPECT_FALSE((*log)->Contains("C4"));
}

TEST_F(DurableLogTest, RecoveryCutsATornLineAndRemembersUids) {
  std::ofstream(path_) << "{\"ts\":1.0,\"uid\":\"C1\"}\n{\"ts\":2.0,\"uid\":\"C2\",\"hist";
  auto log = DurableLog::Open(path_, FsyncPolicy::kGroup);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->records(), 1u);
  EXPECT_GT((*log)->recovered_bytes_cut(), 0u);
  // C1 is already there: a resend is dropped; C2 was torn: it is written again.
  ASSERT_TRUE(AppendSync(**log, {Entry("C1"), Entry("C2")}).ok());
  EXPECT_EQ(ReadFile(path_), "{\"ts\":1.0,\"uid\":\"C1\"}\n" + Entry("C2").json + "\n");
}

TEST_F(DurableLogTest, RecoveryCutsFromTheFirstDamagedLine) {
  // What a power loss can leave after the last fsync: zeros, then garbage.
  std::ofstream(path_) << Entry("C1").json << "\n"
                       << std::string(40, '\0') << "\n"
                       << Entry("C2").json << "\n";
  auto log = DurableLog::Open(path_, FsyncPolicy::kGroup);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->records(), 1u);
  EXPECT_EQ(ReadFile(path_), Entry("C1").json + "\n");
  EXPECT_FALSE((*log)->Contains("C2"));
}

TEST_F(DurableLogTest, UnwritablePathIsAClearError) {
  auto log = DurableLog::Open("/nonexistent-dir/x.log", FsyncPolicy::kGroup);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("cannot open log '/nonexistent-dir/x.log'"),
            std::string::npos);
}

TEST_F(DurableLogTest, OneWriterPerLog) {
  auto log = DurableLog::Open(Options());
  ASSERT_TRUE(log.ok());
  auto second = DurableLog::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("is in use by another process"), std::string::npos);
  log->reset();
  EXPECT_TRUE(DurableLog::Open(Options()).ok());
}

TEST_F(DurableLogTest, EveryFsyncPolicyWritesAndReopens) {
  for (FsyncPolicy p :
       {FsyncPolicy::kAlways, FsyncPolicy::kGroup, FsyncPolicy::kInterval, FsyncPolicy::kNone}) {
    SCOPED_TRACE(FsyncPolicyName(p));
    fs::remove_all(dir_);
    fs::create_directory(dir_);
    LogOptions o = Options();
    o.fsync = p;
    o.fsync_interval = absl::Milliseconds(10);
    {
      auto log = DurableLog::Open(o);
      ASSERT_TRUE(log.ok());
      std::vector<std::future<absl::Status>> done;
      std::vector<std::promise<absl::Status>> promises(20);
      for (int i = 0; i < 20; ++i) {
        done.push_back(promises[i].get_future());
        (*log)->Append({Entry("C" + std::to_string(i))},
                       [&promises, i](const absl::Status& st) { promises[i].set_value(st); });
      }
      for (auto& f : done) EXPECT_TRUE(f.get().ok());
    }
    auto log = DurableLog::Open(o);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)->records(), 20u);
  }
  EXPECT_TRUE(ParseFsyncPolicy("always").ok());
  EXPECT_FALSE(ParseFsyncPolicy("sometimes").ok());
}

TEST_F(DurableLogTest, RotatesBySizeIntoNumberedSegmentsWithIndexes) {
  LogOptions o = Options();
  o.rotate_bytes = 1000;  // about ten lines
  auto log = DurableLog::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(AppendSync(**log, {Entry("C" + std::to_string(i), 1000000 + i, "cid")}).ok());
  }
  const LogStats s = (*log)->stats();
  EXPECT_EQ(s.records, 50u);
  EXPECT_GT(s.segments, 4u);
  EXPECT_EQ(s.oldest_us, 1000000);
  EXPECT_EQ(s.newest_us, 1000049);
  const auto files = Files();
  EXPECT_NE(std::find(files.begin(), files.end(), "gourmet.000001.log"), files.end());
  EXPECT_NE(std::find(files.begin(), files.end(), "gourmet.000001.idx"), files.end());
  EXPECT_NE(std::find(files.begin(), files.end(), "gourmet.log"), files.end());
  // No segment is larger than the limit (one line may be on its own).
  for (const auto& f : files) {
    if (f.find(".log") != std::string::npos) {
      EXPECT_LE(fs::file_size(dir_ + "/" + f), 1000u) << f;
    }
  }
  // Every line is in exactly one segment, in order, and indexed.
  const auto lines = Lines(**log);
  ASSERT_EQ(lines.size(), 50u);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(lines[i], Entry("C" + std::to_string(i), 1000000 + i, "cid").json);
  const Snapshot snap = (*log)->snapshot();
  uint64_t indexed = 0;
  for (const SegmentRef& seg : snap.segments) {
    if (seg.index) indexed += seg.index->uids().size();
  }
  EXPECT_EQ(indexed + snap.segments.back().count, 50u);
  // Resends of uids in sealed segments are recognised too.
  ASSERT_TRUE(AppendSync(**log, {Entry("C3"), Entry("C33"), Entry("C50")}).ok());
  EXPECT_EQ((*log)->records(), 51u);
}

TEST_F(DurableLogTest, RotatesByAge) {
  LogOptions o = Options();
  o.rotate_age = absl::Minutes(10);
  auto log = DurableLog::Open(o);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(AppendSync(**log, {Entry("C1")}).ok());
  now_ += absl::Minutes(9);
  (*log)->RunOnWriter(nullptr);  // the writer checks ages after each run
  EXPECT_EQ((*log)->stats().segments, 1u);
  now_ += absl::Minutes(2);
  (*log)->RunOnWriter(nullptr);
  EXPECT_EQ((*log)->stats().segments, 2u);
  EXPECT_TRUE(fs::exists(dir_ + "/gourmet.000001.log"));
  EXPECT_EQ(fs::file_size(path_), 0u);
  // An empty active segment is never sealed.
  now_ += absl::Hours(1);
  (*log)->RunOnWriter(nullptr);
  EXPECT_EQ((*log)->stats().segments, 2u);
}

TEST_F(DurableLogTest, RetentionBySizeDeletesTheOldestSegments) {
  LogOptions o = Options();
  o.rotate_bytes = 1000;
  o.retain_bytes = 3000;
  auto log = DurableLog::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 60; ++i)
    ASSERT_TRUE(AppendSync(**log, {Entry("C" + std::to_string(i), 1000000 + i)}).ok());
  const LogStats s = (*log)->stats();
  EXPECT_LE(s.bytes + s.index_bytes, 3000u + 1000u);
  EXPECT_LT(s.records, 60u);
  EXPECT_FALSE(fs::exists(dir_ + "/gourmet.000001.log"));
  EXPECT_FALSE(fs::exists(dir_ + "/gourmet.000001.idx"));
  // The newest records survive; a deleted uid is no longer a duplicate.
  EXPECT_TRUE((*log)->Contains("C59"));
  EXPECT_FALSE((*log)->Contains("C0"));
  const uint64_t before = (*log)->records();
  ASSERT_TRUE(AppendSync(**log, {Entry("C0")}).ok());
  EXPECT_EQ((*log)->records(), before + 1);
}

TEST_F(DurableLogTest, RetentionByAgeDeletesSegmentsLastWrittenLongAgo) {
  LogOptions o = Options();
  o.retain_age = absl::Hours(24);
  o.rotate_age = absl::ZeroDuration();
  auto log = DurableLog::Open(o);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(AppendSync(**log, {Entry("C1")}).ok());
  (*log)->RotateNow();
  now_ += absl::Hours(12);
  ASSERT_TRUE(AppendSync(**log, {Entry("C2")}).ok());
  (*log)->RotateNow();
  ASSERT_TRUE(AppendSync(**log, {Entry("C3")}).ok());
  EXPECT_EQ((*log)->stats().segments, 3u);
  now_ += absl::Hours(13);  // segment 1 is 25 h old, segment 2 13 h
  (*log)->EnforceRetentionNow();
  EXPECT_EQ((*log)->stats().segments, 2u);
  EXPECT_FALSE(fs::exists(dir_ + "/gourmet.000001.log"));
  EXPECT_TRUE(fs::exists(dir_ + "/gourmet.000002.log"));
  EXPECT_EQ((*log)->records(), 2u);
}

TEST_F(DurableLogTest, RecoversFromAnInterruptedRotation) {
  {
    LogOptions o = Options();
    o.rotate_bytes = 1000;
    auto log = DurableLog::Open(o);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 30; ++i)
      ASSERT_TRUE(AppendSync(**log, {Entry("C" + std::to_string(i), 1000000 + i)}).ok());
  }
  // A crash after the rename, before the index was written and before the
  // new active segment was created; plus a temporary index left behind, and
  // an index whose segment retention already deleted.
  fs::remove(dir_ + "/gourmet.000002.idx");
  std::ofstream(dir_ + "/gourmet.000002.idx.tmp") << "partial";
  std::ofstream(dir_ + "/gourmet.000099.idx") << "orphan";
  fs::rename(path_, dir_ + "/gourmet.000050.log");
  auto log = DurableLog::Open(Options());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->records(), 30u);
  EXPECT_TRUE(fs::exists(dir_ + "/gourmet.000002.idx"));
  EXPECT_TRUE(fs::exists(dir_ + "/gourmet.000050.idx"));
  EXPECT_FALSE(fs::exists(dir_ + "/gourmet.000002.idx.tmp"));
  EXPECT_FALSE(fs::exists(dir_ + "/gourmet.000099.idx"));
  EXPECT_TRUE(fs::exists(path_));
  for (int i = 0; i < 30; ++i) EXPECT_TRUE((*log)->Contains("C" + std::to_string(i))) << i;
  // The next segment number follows the highest one.
  (*log)->RunOnWriter(nullptr);
  ASSERT_TRUE(AppendSync(**log, {Entry("Cnew")}).ok());
  (*log)->RotateNow();
  EXPECT_TRUE(fs::exists(dir_ + "/gourmet.000051.log"));
}

TEST_F(DurableLogTest, RebuildsADamagedIndex) {
  {
    auto log = DurableLog::Open(Options());
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(AppendSync(**log, {Entry("C1", 5), Entry("C2", 7)}).ok());
    (*log)->RotateNow();
  }
  {
    std::fstream f(dir_ + "/gourmet.000001.idx", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(70);
    f.put('\x55');
  }
  auto log = DurableLog::Open(Options());
  ASSERT_TRUE(log.ok());
  const Snapshot snap = (*log)->snapshot();
  ASSERT_EQ(snap.segments.size(), 2u);
  ASSERT_TRUE(snap.segments[0].index);
  EXPECT_EQ(snap.segments[0].index->uids().size(), 2u);
  EXPECT_EQ(LookupKey(snap.segments[0].index->uids(), KeyHash("C2")).size(), 1u);
  EXPECT_TRUE((*log)->Contains("C1"));
}

TEST_F(DurableLogTest, SubscribersGetExactlyTheLinesWrittenAfter) {
  auto log = DurableLog::Open(Options());
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(AppendSync(**log, {Entry("C1")}).ok());
  std::vector<std::string> got;
  absl::Mutex mu;
  Snapshot snap;
  const uint64_t id = (*log)->Subscribe(
      [&](std::shared_ptr<const std::string> chunk) {
        absl::MutexLock l(&mu);
        got.push_back(*chunk);
      },
      &snap);
  EXPECT_EQ(snap.segments.back().count, 1u);
  ASSERT_TRUE(AppendSync(**log, {Entry("C2"), Entry("C1")}).ok());
  (*log)->Unsubscribe(id);
  ASSERT_TRUE(AppendSync(**log, {Entry("C3")}).ok());
  absl::MutexLock l(&mu);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Entry("C2").json + "\n");
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
  EXPECT_NE(RenderRecord(r, {"dns"}).find(",\"_missing\":[\"dns\"],\"_errors\""),
            std::string::npos);
}

}  // namespace
}  // namespace gourmet::sink
