// SenderPool: several ReliableSenders to one target, for scale-out. Each has
// its own channel and stream; with round_robin over the addresses the target
// resolves to (a headless Service, or "ipv4:a:p,b:p,..."), their streams land
// on different peers. Requests go to the sender with the fewest pending, so a
// slow or failing peer gets less; a failed stream's requests are resent by its
// own sender, on a new stream to whichever peer is up.
#pragma once

#include <memory>
#include <vector>

#include "services/reliable_sender.h"

namespace gourmet {

template <typename Service, typename Req, typename Ack>
class SenderPool {
 public:
  using Sender = ReliableSender<Service, Req, Ack>;

  SenderPool(int streams, const ReliableSenderOptions& options,
             typename Sender::StartCallFn start_call,
             typename Sender::ResendFn on_resend = nullptr) {
    for (int i = 0; i < std::max(1, streams); ++i) {
      senders_.push_back(std::make_unique<Sender>(options, start_call, on_resend));
    }
  }

  // As ReliableSender::Send, on the least loaded sender that has not given up.
  absl::Status Send(Req req, typename Sender::DoneFn done) {
    Sender* best = nullptr;
    size_t best_pending = 0;
    absl::Status failure;
    for (size_t i = 0; i < senders_.size(); ++i) {
      Sender* s = senders_[(next_ + i) % senders_.size()].get();
      if (absl::Status st = s->status(); !st.ok()) {
        failure = st;
        continue;
      }
      const size_t p = s->pending();
      if (!best || p < best_pending) {
        best = s;
        best_pending = p;
      }
    }
    next_ = (next_ + 1) % senders_.size();
    if (!best) return failure;
    return best->Send(std::move(req), std::move(done));
  }

  // Waits for every sender; the first failure, if any.
  absl::Status Flush() {
    absl::Status first;
    for (auto& s : senders_) {
      absl::Status st = s->Flush();
      if (first.ok() && !st.ok()) first = st;
    }
    return first;
  }
  void Shutdown() {
    for (auto& s : senders_) s->Shutdown();
  }
  // Failed once every sender has given up.
  absl::Status status() {
    absl::Status last;
    for (auto& s : senders_) {
      last = s->status();
      if (last.ok()) return last;
    }
    return last;
  }
  size_t pending() {
    size_t n = 0;
    for (auto& s : senders_) n += s->pending();
    return n;
  }
  uint64_t dropped() {
    uint64_t n = 0;
    for (auto& s : senders_) n += s->dropped();
    return n;
  }
  absl::Duration blocked_time() {
    absl::Duration d;
    for (auto& s : senders_) d += s->blocked_time();
    return d;
  }
  uint64_t blocked_sends() {
    uint64_t n = 0;
    for (auto& s : senders_) n += s->blocked_sends();
    return n;
  }
  uint64_t resent() {
    uint64_t n = 0;
    for (auto& s : senders_) n += s->resent();
    return n;
  }

 private:
  std::vector<std::unique_ptr<Sender>> senders_;
  size_t next_ = 0;  // only touched by the (single) producer thread
};

}  // namespace gourmet
