// The query executor against a brute-force reference: for each filter and
// order, over a log of several sealed segments plus the active one, RunQuery
// must return exactly the matching lines, in the requested order, whatever
// index or scan it chose.
#include "log-sink/log_query.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "log-sink/record_format.h"
#include "log-sink/test_records.h"

namespace gourmet::sink {
namespace {

using gourmet::v1::QueryRequest;

class LogQueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = ::testing::TempDir() + "/log_query_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    LogOptions o;
    o.path = *dir_ + "/q.log";
    o.rotate_bytes = 64 << 10;
    auto log = DurableLog::Open(o);
    ASSERT_TRUE(log.ok());
    log_ = log->release();
    for (int b = 0; b < 20; ++b) {
      std::vector<LogEntry> entries;
      for (int k = 0; k < 100; ++k) {
        const uint64_t i = b * 100 + k;
        auto r = testing::TestRecord(i, testing::TestUid("Q", i));
        // Long connections end late: their lines come after younger ones.
        if (i % 97 == 0) r.mutable_conn()->set_ts_us(testing::kBaseTsUs - 5000000 + i);
        // Repeated flows share a community_id.
        if (i % 50 == 0) r.mutable_conn()->set_community_id("1:shared=");
        entries.push_back(
            {r.conn().uid(), r.conn().community_id(), r.conn().ts_us(), RenderRecord(r)});
      }
      std::promise<absl::Status> done;
      log_->Append(std::move(entries), [&done](const absl::Status& st) { done.set_value(st); });
      ASSERT_TRUE(done.get_future().get().ok());
    }
    ASSERT_GT(log_->stats().segments, 5u);
  }
  static void TearDownTestSuite() {
    delete log_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  // The reference: every line through Filter::Matches, sorted as asked.
  static std::vector<std::string> Expected(const Filter& f, QueryRequest::Order order,
                                           uint64_t limit) {
    std::vector<std::string> lines;
    for (const SegmentRef& s : log_->snapshot().segments) {
      for (absl::string_view l : absl::StrSplit(absl::string_view(s.text().data(), s.text().size()),
                                                '\n', absl::SkipEmpty())) {
        const std::string_view line(l.data(), l.size());
        if (f.Matches(line)) lines.emplace_back(line);
      }
    }
    if (order != QueryRequest::LOG) {
      std::stable_sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
        return LineTs(a) < LineTs(b);
      });
      if (order == QueryRequest::TS_DESC) std::reverse(lines.begin(), lines.end());
    }
    if (limit > 0 && lines.size() > limit) lines.resize(limit);
    return lines;
  }

  static std::vector<std::string> Run(const QueryRequest& req, QueryCounters* c = nullptr) {
    auto f = Filter::Compile(req);
    EXPECT_TRUE(f.ok()) << f.status();
    QueryOptions o;
    o.order = req.order();
    o.limit = req.limit();
    std::vector<std::string> out;
    EXPECT_TRUE(RunQuery(
                    log_->snapshot(), *f, o,
                    [&out](std::string_view l) {
                      out.emplace_back(l);
                      return true;
                    },
                    c)
                    .ok());
    return out;
  }

  static void Check(QueryRequest req, size_t min_matches = 1) {
    for (auto order : {QueryRequest::TS, QueryRequest::TS_DESC, QueryRequest::LOG}) {
      for (uint32_t limit : {0u, 1u, 7u}) {
        req.set_order(order);
        req.set_limit(limit);
        SCOPED_TRACE(req.ShortDebugString());
        const auto want = Expected(*Filter::Compile(req), order, limit);
        if (limit == 0) {
          EXPECT_GE(want.size(), min_matches);
        }
        EXPECT_EQ(Run(req), want);
      }
    }
  }

  static std::string* dir_;
  static DurableLog* log_;
};

std::string* LogQueryTest::dir_ = nullptr;
DurableLog* LogQueryTest::log_ = nullptr;

TEST_F(LogQueryTest, Everything) { Check(QueryRequest(), 2000); }

TEST_F(LogQueryTest, ByUidReadsOnlyTheIndexedLine) {
  QueryRequest r;
  r.set_uid(testing::TestUid("Q", 1234));
  Check(r);
  QueryCounters c;
  EXPECT_EQ(Run(r, &c).size(), 1u);
  EXPECT_EQ(c.evaluated, 1u);
  r.set_uid("Cnothere");
  EXPECT_TRUE(Run(r).empty());
  r.set_uid(testing::TestUid("Q", 1999));  // in the active segment
  EXPECT_EQ(Run(r).size(), 1u);
}

TEST_F(LogQueryTest, ByCommunityId) {
  QueryRequest r;
  r.set_community_id("1:shared=");
  Check(r, 40);
  QueryCounters c;
  Run(r, &c);
  EXPECT_EQ(c.evaluated, 40u);
}

TEST_F(LogQueryTest, ByTimeRange) {
  QueryRequest r;
  r.set_from_us(testing::kBaseTsUs + 500 * 1000);
  r.set_to_us(testing::kBaseTsUs + 520 * 1000);
  Check(r, 15);
  QueryCounters c;
  r.set_order(QueryRequest::LOG);
  Run(r, &c);
  EXPECT_LT(c.evaluated, 400u);  // not the whole log
  // The late, old connections.
  r.set_from_us(testing::kBaseTsUs - 6000000);
  r.set_to_us(testing::kBaseTsUs - 1);
  Check(r, 20);
  r.clear_to_us();
  r.set_from_us(testing::kBaseTsUs + 1990 * 1000);
  Check(r, 9);
}

TEST_F(LogQueryTest, ByEachFilter) {
  QueryRequest r;
  r.set_addr("10.0.0.17");
  Check(r);
  r.Clear();
  r.set_addr("192.168.0.0/30");
  Check(r, 20);
  r.Clear();
  r.set_orig_h("10.0.3.0/24");
  Check(r);
  r.Clear();
  r.set_resp_h("192.168.0.9");
  Check(r);
  r.Clear();
  r.set_port(53);
  Check(r, 100);
  r.Clear();
  r.set_orig_p(20017);
  Check(r);
  r.Clear();
  r.set_resp_p(443);
  Check(r, 100);
  r.Clear();
  r.set_proto("icmp");
  Check(r, 100);
  r.Clear();
  r.set_service("dns");
  Check(r, 100);
  r.Clear();
  r.set_conn_state("REJ");
  Check(r, 10);
  r.Clear();
  r.add_where(R"(http.host == "host12.example.test")");
  Check(r);
  r.Clear();
  r.add_where(R"(dns.query contains "netflix")");
  Check(r, 20);
  r.Clear();
  r.add_where("orig_bytes > 1000000");
  Check(r, 2);
  r.Clear();
  r.set_proto("tcp");
  r.set_resp_p(80);
  r.add_where("http.status_code == 404 or orig_bytes > 4900");
  Check(r, 5);
}

TEST_F(LogQueryTest, NothingMatches) {
  QueryRequest r;
  r.add_where(R"(http.host == "nowhere.test")");
  Check(r, 0);
  r.Clear();
  r.set_from_us(1);
  r.set_to_us(2);
  Check(r, 0);
}

TEST_F(LogQueryTest, EmitCanStopAndCancelStops) {
  auto f = Filter::Compile(QueryRequest());
  int n = 0;
  QueryOptions o;
  ASSERT_TRUE(RunQuery(log_->snapshot(), *f, o, [&n](std::string_view) { return ++n < 5; }).ok());
  EXPECT_EQ(n, 5);
  std::atomic<bool> cancelled{true};
  o.cancelled = &cancelled;
  o.order = QueryRequest::LOG;
  EXPECT_EQ(RunQuery(log_->snapshot(), *f, o, [](std::string_view) { return true; }).code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace gourmet::sink
