// Merging the parts of a connection: completion, resends, the window and
// its marker, the cap, and acknowledgement bookkeeping.
#include "log-sink/merger.h"

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "log-sink/record_format.h"

namespace gourmet::sink {
namespace {

gourmet::v1::Record Part(const std::string& uid, const std::string& part,
                         const std::string& key = "", const std::string& json = "") {
  gourmet::v1::Record r;
  r.mutable_conn()->set_uid(uid);
  r.mutable_conn()->set_ts_us(1000000);
  r.mutable_conn()->set_sensor(part);  // to see whose conn was kept
  r.set_part(part);
  if (!key.empty()) {
    (*r.mutable_results())[key] = json;
    r.add_services(key);
  }
  return r;
}

class MergerTest : public ::testing::Test {
 protected:
  MergeConfig TwoParts() {
    MergeConfig c;
    c.parts = {"analysis", "dns"};
    c.window = absl::Seconds(10);
    return c;
  }
  std::shared_ptr<BatchTracker> Tracker(size_t n) {
    return std::make_shared<BatchTracker>(n, [this](const absl::Status& st) {
      ++acks_;
      last_ack_ = st;
    });
  }
  std::function<bool(const std::string&)> Written() {
    return [this](const std::string& uid) { return written_.contains(uid); };
  }
  // What the log does with an output: acknowledge its waiters.
  void Durable(std::vector<Merger::Output>& out, absl::Status st = absl::OkStatus()) {
    for (auto& o : out) {
      written_.insert(o.record.conn().uid());
      for (auto& w : o.waiters) w->RecordDone(st);
    }
  }

  absl::flat_hash_set<std::string> written_;
  int acks_ = 0;
  absl::Status last_ack_;
  absl::Time t0_ = absl::FromUnixSeconds(1000);
};

TEST_F(MergerTest, ASinglePartConnectionGoesOutAtOnce) {
  Merger m(MergeConfig(), Written());
  std::vector<Merger::Output> out;
  auto t = Tracker(2);
  m.Add(Part("C1", ""), t, t0_, &out);  // "" is the default part, "analysis"
  m.Add(Part("C2", "analysis"), t, t0_, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].missing.empty());
  EXPECT_EQ(m.pending_parts(), 0u);
  EXPECT_EQ(acks_, 0);
  Durable(out);
  EXPECT_EQ(acks_, 1);  // one ack for the batch, after both records
}

TEST_F(MergerTest, PartsFromTwoPoolsMergeIntoOneRecord) {
  Merger m(TwoParts(), Written());
  std::vector<Merger::Output> out;
  auto a = Tracker(1), b = Tracker(1);
  m.Add(Part("C1", "dns", "dns", R"({"query":"x"})"), b, t0_, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(m.pending_parts(), 1u);
  m.Add(Part("C1", "analysis", "bytes", R"({"orig":1})"), a, t0_ + absl::Seconds(1), &out);
  ASSERT_EQ(out.size(), 1u);
  const auto& r = out[0].record;
  EXPECT_EQ(r.conn().sensor(), "analysis");  // the first part in merge.parts order
  EXPECT_EQ(r.results().at("dns"), R"({"query":"x"})");
  EXPECT_EQ(r.results().at("bytes"), R"({"orig":1})");
  ASSERT_EQ(r.services_size(), 2);
  EXPECT_EQ(r.services(0), "bytes");
  EXPECT_EQ(r.services(1), "dns");
  EXPECT_TRUE(out[0].missing.empty());
  EXPECT_EQ(out[0].waiters.size(), 2u);
  EXPECT_EQ(m.pending_parts(), 0u);
  Durable(out);
  EXPECT_EQ(acks_, 2);
}

TEST_F(MergerTest, AResentPartIsDroppedAndAcknowledgedWithItsRecord) {
  Merger m(TwoParts(), Written());
  std::vector<Merger::Output> out;
  m.Add(Part("C1", "analysis", "bytes", "1"), Tracker(1), t0_, &out);
  m.Add(Part("C1", "analysis", "bytes", "1"), Tracker(1), t0_, &out);  // the resend
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(m.duplicate_parts(), 1u);
  EXPECT_EQ(m.pending_parts(), 1u);
  m.Add(Part("C1", "dns", "dns", "2"), Tracker(1), t0_, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].waiters.size(), 3u);
  Durable(out);
  EXPECT_EQ(acks_, 3);
  // A resend after the record was written goes to the log, which drops it.
  out.clear();
  m.Add(Part("C1", "dns", "dns", "2"), Tracker(1), t0_, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(m.pending_parts(), 0u);
}

TEST_F(MergerTest, TheWindowWritesWhatArrivedWithAMarker) {
  Merger m(TwoParts(), Written());
  std::vector<Merger::Output> out;
  m.Add(Part("C1", "analysis", "bytes", "1"), Tracker(1), t0_, &out);
  m.Add(Part("C2", "analysis", "bytes", "1"), Tracker(1), t0_ + absl::Seconds(5), &out);
  EXPECT_EQ(m.NextDeadline(), t0_ + absl::Seconds(10));
  m.Expire(t0_ + absl::Seconds(9), &out);
  EXPECT_TRUE(out.empty());
  m.Expire(t0_ + absl::Seconds(10), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].record.conn().uid(), "C1");
  ASSERT_EQ(out[0].missing.size(), 1u);
  EXPECT_EQ(out[0].missing[0], "dns");
  EXPECT_NE(RenderRecord(out[0].record, out[0].missing).find(R"("_missing":["dns"])"),
            std::string::npos);
  EXPECT_EQ(m.incomplete(), 1u);
  EXPECT_EQ(m.pending_parts(), 1u);
  Durable(out);
  // The missing part arrives late: counted, and dropped by the log.
  out.clear();
  m.Add(Part("C1", "dns", "dns", "2"), Tracker(1), t0_ + absl::Seconds(11), &out);
  EXPECT_EQ(m.late_parts(), 1u);
  ASSERT_EQ(out.size(), 1u);
  m.Expire(t0_ + absl::Seconds(15), &out);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(m.NextDeadline(), absl::InfiniteFuture());
}

TEST_F(MergerTest, TheCapWritesTheOldestEarly) {
  MergeConfig c = TwoParts();
  c.max_pending = 2;
  Merger m(c, Written());
  std::vector<Merger::Output> out;
  for (int i = 0; i < 3; ++i)
    m.Add(Part("C" + std::to_string(i), "analysis"), Tracker(1), t0_, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].record.conn().uid(), "C0");
  EXPECT_EQ(out[0].missing.size(), 1u);
  EXPECT_EQ(m.evicted(), 1u);
  EXPECT_EQ(m.pending_parts(), 2u);
}

TEST_F(MergerTest, AnUnexpectedPartIsMergedButDoesNotComplete) {
  Merger m(MergeConfig(), Written());
  std::vector<Merger::Output> out;
  m.Add(Part("C1", "tls-pool", "tls", "{}"), Tracker(1), t0_, &out);
  EXPECT_TRUE(out.empty());
  m.Add(Part("C1", "analysis", "bytes", "{}"), Tracker(1), t0_, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].record.results().contains("tls"));
  EXPECT_EQ(out[0].record.conn().sensor(), "analysis");
}

TEST_F(MergerTest, DisagreeingPartsKeepTheFirstAndSaySo) {
  Merger m(TwoParts(), Written());
  std::vector<Merger::Output> out;
  m.Add(Part("C1", "dns", "http", R"({"a":2})"), Tracker(1), t0_, &out);
  m.Add(Part("C1", "analysis", "http", R"({"a":1})"), Tracker(1), t0_, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].record.results().at("http"), R"({"a":1})");
  EXPECT_TRUE(out[0].record.errors().contains("http"));
}

TEST_F(MergerTest, ABatchIsAcknowledgedOnceWithTheFirstError) {
  auto t = Tracker(3);
  t->RecordDone(absl::OkStatus());
  t->RecordDone(absl::UnavailableError("disk full"));
  EXPECT_EQ(acks_, 0);
  t->RecordDone(absl::OkStatus());
  EXPECT_EQ(acks_, 1);
  EXPECT_EQ(last_ack_.message(), "disk full");
}

TEST_F(MergerTest, ClearDropsWhatWaits) {
  Merger m(TwoParts(), Written());
  std::vector<Merger::Output> out;
  m.Add(Part("C1", "analysis"), Tracker(1), t0_, &out);
  m.Clear();
  EXPECT_EQ(m.pending_parts(), 0u);
  m.Expire(t0_ + absl::Hours(1), &out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace gourmet::sink
