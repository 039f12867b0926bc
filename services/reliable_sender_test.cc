#include "services/reliable_sender.h"

#include <atomic>
#include <vector>

#include "gourmet/v1/analyzer.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/acking_stream.h"

namespace gourmet {
namespace {

using Batch = gourmet::v1::ConnectionBatch;
using Ack = gourmet::v1::BatchAck;

// An analyzer that acknowledges nothing until released.
class StuckAnalyzer final : public gourmet::v1::Analyzer::CallbackService {
 public:
  grpc::ServerBidiReactor<Batch, Ack>* Analyze(grpc::CallbackServerContext*) override {
    return new AckingServerStream<Batch, Ack>(64, [this](std::shared_ptr<Batch>, auto done) {
      absl::MutexLock l(&mu_);
      held_.push_back(std::move(done));
    });
  }
  void Release() {
    std::vector<std::function<void(const absl::Status&)>> held;
    {
      absl::MutexLock l(&mu_);
      held.swap(held_);
    }
    for (auto& d : held) d(absl::OkStatus());
  }
  absl::Mutex mu_;
  std::vector<std::function<void(const absl::Status&)>> held_;
};

TEST(ReliableSenderTest, DropOldestWhenFullFailsTheDroppedAndCountsThem) {
  StuckAnalyzer service;
  auto server = StartGrpcServer("127.0.0.1:0", {&service});
  ASSERT_TRUE(server.ok());
  ReliableSenderOptions o;
  o.target = "127.0.0.1:" + std::to_string(server->port);
  o.max_in_flight = 1;
  o.max_queued = 2;
  o.drop_oldest_when_full = true;
  ReliableSender<gourmet::v1::Analyzer, Batch, Ack> sender(
      o, [](auto* stub, auto* ctx, auto* r) { stub->async()->Analyze(ctx, r); });
  std::atomic<int> ok{0}, dropped{0};
  for (int i = 0; i < 8; ++i) {
    // Never blocks: a full queue drops its oldest instead.
    ASSERT_TRUE(sender
                    .Send(Batch(),
                          [&](const absl::Status& st) {
                            (st.ok() ? ok : dropped)++;
                            if (!st.ok()) {
                              EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
                            }
                          })
                    .ok());
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_GE(dropped.load(), 4);
  EXPECT_EQ(sender.dropped(), static_cast<uint64_t>(dropped.load()));
  EXPECT_EQ(sender.blocked_sends(), 0u);
  // Let the analyzer acknowledge what it holds, and what comes after it.
  for (int i = 0; i < 100 && sender.pending() > 0; ++i) {
    service.Release();
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(sender.Flush().ok());
  EXPECT_EQ(ok.load() + dropped.load(), 8);
  sender.Shutdown();
  server->server->Shutdown();
}

}  // namespace
}  // namespace gourmet
