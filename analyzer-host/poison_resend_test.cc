// The resend path that contains crashing plugins, in process: the capture
// agent's Exporter (over ReliableSender with isolate_resends and its resend
// hook) against a fake analyzer that "crashes" (breaks the stream without
// acknowledging anything) whenever a batch holds a poison connection, until
// that batch's attempt exceeds max_attempts, as analyzer-host then skips it.
// The real processes and a real segfault: tests/e2e/crash_containment_test.py.
#include <map>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "capture-agent/exporter.h"
#include "gmock/gmock.h"
#include "gourmet/v1/analyzer.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/grpc_util.h"

namespace gourmet {
namespace {

constexpr uint32_t kMaxAttempts = 3;

class CrashingAnalyzer final : public gourmet::v1::Analyzer::CallbackService {
 public:
  explicit CrashingAnalyzer(std::set<std::string> poison) : poison_(std::move(poison)) {}

  grpc::ServerBidiReactor<v1::ConnectionBatch, v1::BatchAck>* Analyze(
      grpc::CallbackServerContext*) override {
    return new Stream(this);
  }

  struct Seen {
    int crashes = 0;             // deliveries that "crashed" the analyzer
    uint32_t max_attempt = 0;    // highest attempt it came with
    uint32_t acked_attempt = 0;  // attempt of the delivery that was acknowledged
    bool skipped = false;        // acknowledged past max_attempts, unanalysed
  };
  std::map<std::string, Seen> seen() {
    absl::MutexLock l(&mu_);
    return seen_;
  }
  int crashes() {
    absl::MutexLock l(&mu_);
    return crashes_;
  }

 private:
  class Stream : public grpc::ServerBidiReactor<v1::ConnectionBatch, v1::BatchAck> {
   public:
    explicit Stream(CrashingAnalyzer* a) : a_(a) { StartRead(&in_); }
    void OnReadDone(bool ok) override {
      if (!ok) {
        absl::MutexLock l(&mu_);
        reads_done_ = true;
        MaybeFinishLocked();
        return;
      }
      const bool crash = a_->Take(in_);
      absl::MutexLock l(&mu_);
      if (crash) {
        // A dead analyzer acknowledges nothing more on this stream.
        crashed_ = true;
        acks_.clear();
        if (!write_in_flight_) Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "crashed"));
        return;
      }
      v1::BatchAck ack;
      ack.set_batch_id(in_.batch_id());
      acks_.push_back(ack);
      PumpLocked();
      StartRead(&in_);
    }
    void OnWriteDone(bool ok) override {
      absl::MutexLock l(&mu_);
      write_in_flight_ = false;
      if (crashed_) {
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "crashed"));
        return;
      }
      if (ok) PumpLocked();
      MaybeFinishLocked();
    }
    void OnDone() override { delete this; }

   private:
    void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (write_in_flight_ || acks_.empty()) return;
      out_ = acks_.front();
      acks_.pop_front();
      write_in_flight_ = true;
      StartWrite(&out_);
    }
    void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (reads_done_ && !write_in_flight_ && acks_.empty() && !finished_) {
        finished_ = true;
        Finish(grpc::Status::OK);
      }
    }
    CrashingAnalyzer* a_;
    absl::Mutex mu_;
    v1::ConnectionBatch in_;
    v1::BatchAck out_;
    std::deque<v1::BatchAck> acks_ ABSL_GUARDED_BY(mu_);
    bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
    bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
    bool crashed_ ABSL_GUARDED_BY(mu_) = false;
    bool finished_ ABSL_GUARDED_BY(mu_) = false;
  };

  // Records a delivery; true when it crashes the analyzer.
  bool Take(const v1::ConnectionBatch& b) {
    absl::MutexLock l(&mu_);
    const bool skip = b.attempt() > kMaxAttempts;
    bool crash = false;
    for (const auto& c : b.connections()) crash |= !skip && poison_.count(c.uid()) > 0;
    if (crash) ++crashes_;
    for (const auto& c : b.connections()) {
      Seen& s = seen_[c.uid()];
      s.max_attempt = std::max(s.max_attempt, b.attempt());
      if (crash) {
        ++s.crashes;
      } else {
        s.acked_attempt = b.attempt();
        s.skipped = skip;
      }
    }
    return crash;
  }

  const std::set<std::string> poison_;
  absl::Mutex mu_;
  std::map<std::string, Seen> seen_ ABSL_GUARDED_BY(mu_);
  int crashes_ ABSL_GUARDED_BY(mu_) = 0;
};

v1::Connection Conn(int i) {
  v1::Connection c;
  c.set_uid("C" + std::to_string(i));
  return c;
}

TEST(PoisonResendTest, OnlyThePoisonConnectionsAreSkipped) {
  CrashingAnalyzer analyzer({"C37", "C38", "C81"});
  auto server = StartGrpcServer("127.0.0.1:0", {&analyzer});
  ASSERT_TRUE(server.ok()) << server.status();
  capture::ExporterConfig config;
  config.analyzer = "127.0.0.1:" + std::to_string(server->port);
  config.batch_connections = 10;
  config.max_in_flight = 4;
  config.give_up_after = absl::Seconds(20);
  {
    capture::Exporter exporter(config);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(exporter.Add({Conn(i), {}}).ok());
    ASSERT_TRUE(exporter.Flush().ok());
    // Every connection acknowledged once from the exporter's point of view,
    // whatever splitting happened underneath.
    EXPECT_EQ(exporter.connections_acked(), 100u);
    EXPECT_EQ(exporter.batches_acked(), 10u);
    EXPECT_EQ(exporter.connections_failed(), 0u);
  }
  const auto seen = analyzer.seen();
  ASSERT_EQ(seen.size(), 100u);
  for (const auto& [uid, s] : seen) {
    if (uid == "C37" || uid == "C38" || uid == "C81") {
      // Crashed with its batch, then with its batch alone, then alone.
      EXPECT_EQ(s.crashes, 3) << uid;
      EXPECT_TRUE(s.skipped) << uid;
      EXPECT_EQ(s.acked_attempt, kMaxAttempts + 1) << uid;
    } else {
      EXPECT_FALSE(s.skipped) << uid;
      EXPECT_LE(s.acked_attempt, kMaxAttempts) << uid;
    }
  }
  // Batches 3 (C30-39) and 8 (C80-89) crashed an analyzer among others,
  // then alone; then C37, C38 and C81 once each alone.
  EXPECT_EQ(analyzer.crashes(), 2 + 2 + 3);
  // The neighbours of a poison batch in flight crashed once with it at most.
  for (const auto& [uid, s] : seen) {
    if (uid.rfind("C3", 0) != 0 && uid.rfind("C8", 0) != 0) {
      EXPECT_LE(s.crashes, 1) << uid;
    }
  }
  server->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace
}  // namespace gourmet
