// Server side of an acknowledged batch stream (Analyzer.Analyze,
// LogSink.Ingest): reads up to `max_outstanding` batches ahead, hands each to
// a handler that completes asynchronously, and writes one ack per batch, one
// write in flight at a time. Reference-counted, because a handler may complete
// after the client has gone.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace gourmet {

template <typename Req, typename Ack>
class AckingServerStream : public grpc::ServerBidiReactor<Req, Ack> {
 public:
  using DoneFn = std::function<void(const absl::Status&)>;
  // Called on a gRPC thread for each batch; must call `done` exactly once, from any thread.
  using Handler = std::function<void(std::shared_ptr<Req>, DoneFn)>;

  AckingServerStream(size_t max_outstanding, Handler handler,
                     std::function<void()> on_done = nullptr)
      : max_outstanding_(max_outstanding),
        handler_(std::move(handler)),
        on_done_(std::move(on_done)) {
    this->StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock l(&mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    auto batch = std::make_shared<Req>(std::move(in_));
    in_.Clear();
    const uint64_t id = batch->batch_id();
    {
      absl::MutexLock l(&mu_);
      ++outstanding_;
      ++refs_;
      if (outstanding_ < max_outstanding_) {
        this->StartRead(&in_);
      } else {
        read_paused_ = true;
      }
    }
    handler_(std::move(batch), [this, id](const absl::Status& st) { Complete(id, st); });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    write_in_flight_ = false;
    if (!ok) {
      broken_ = true;
      acks_.clear();
    }
    PumpLocked();
    MaybeFinishLocked();
  }

  void OnCancel() override {
    absl::MutexLock l(&mu_);
    broken_ = true;
    MaybeFinishLocked();
  }

  void OnDone() override {
    if (on_done_) on_done_();
    Unref();
  }

 private:
  void Complete(uint64_t id, const absl::Status& st) {
    {
      absl::MutexLock l(&mu_);
      --outstanding_;
      if (!broken_ && !finished_) {
        Ack ack;
        ack.set_batch_id(id);
        if (!st.ok()) ack.set_error(std::string(st.message()));
        acks_.push_back(std::move(ack));
        PumpLocked();
      }
      if (read_paused_ && !reads_done_ && !broken_ && !finished_) {
        read_paused_ = false;
        this->StartRead(&in_);
      }
      MaybeFinishLocked();
    }
    Unref();
  }

  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write_in_flight_ || acks_.empty() || finished_) return;
    out_ = std::move(acks_.front());
    acks_.pop_front();
    write_in_flight_ = true;
    this->StartWrite(&out_);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || write_in_flight_) return;
    if ((reads_done_ || broken_) && outstanding_ == 0 && acks_.empty()) {
      finished_ = true;
      this->Finish(grpc::Status::OK);
    }
  }

  void Unref() {
    bool last;
    {
      absl::MutexLock l(&mu_);
      last = --refs_ == 0;
    }
    if (last) delete this;
  }

  const size_t max_outstanding_;
  const Handler handler_;
  const std::function<void()> on_done_;
  absl::Mutex mu_;
  Req in_;
  Ack out_;
  std::deque<Ack> acks_ ABSL_GUARDED_BY(mu_);
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int refs_ ABSL_GUARDED_BY(mu_) = 1;  // the RPC's own, dropped in OnDone
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gourmet
