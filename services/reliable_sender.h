// ReliableSender: at-least-once delivery of batches over a bidirectional gRPC
// stream whose responses acknowledge requests by batch_id.
//
// Every request is kept until its ack arrives. When the stream breaks, or an
// ack takes longer than ack_timeout, the stream is cancelled, a new one is
// opened and every unacknowledged request is sent again, in order. The queue
// is bounded: Send() blocks when it is full, which backs pressure up to the
// producer. Used by capture-agent -> analyzer-host and analyzer-host -> sink.
//
// For a peer that may crash on a request (an analyzer running plugins), two
// opt-in aids: `isolate_resends` sends each resent request alone, so a
// request that keeps failing fails on its own; and a resend hook marks each
// resent request (counts attempts) and may split it into smaller ones.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_callback.h"
#include "services/grpc_util.h"
#include "services/log.h"

namespace gourmet {

struct ReliableSenderOptions {
  std::string target;              // gRPC target, e.g. "127.0.0.1:50051"
  std::string peer_name = "peer";  // for messages: "analyzer", "sink"
  // Without a working connection for this long, pending requests fail and the
  // sender gives up. InfiniteDuration() retries forever.
  absl::Duration give_up_after = absl::Seconds(30);
  absl::Duration ack_timeout = absl::Seconds(120);
  size_t max_in_flight = 16;  // sent, not yet acknowledged
  size_t max_queued = 64;     // waiting to be sent
  // TLS (null: plaintext), the name expected in the server's certificate,
  // and the load-balancing policy over the addresses `target` resolves to.
  std::shared_ptr<grpc::ChannelCredentials> creds;
  std::string server_name;
  std::string lb_policy = "round_robin";
  // Requests that were unacknowledged when a stream failed are resent one at
  // a time, each alone on the stream, until acknowledged; new requests wait
  // behind them. A request that makes the peer fail then fails alone.
  bool isolate_resends = false;
  // When the queue is full: block the caller (false, backpressure up to
  // capture), or drop the oldest waiting request, failing it (true).
  bool drop_oldest_when_full = false;
};

template <typename Service, typename Req, typename Ack>
class ReliableSender {
 public:
  using Stub = typename Service::Stub;
  using Reactor = grpc::ClientBidiReactor<Req, Ack>;
  using StartCallFn = std::function<void(Stub*, grpc::ClientContext*, Reactor*)>;
  // Called once per request: OK when acknowledged, an error when it failed.
  using DoneFn = std::function<void(const absl::Status&)>;
  // Called on each unacknowledged request as it is put back for resending,
  // under the sender's lock (so quick, and never calling the sender). It may
  // mark the request (e.g. count attempts) and split it: requests appended to
  // `more` are resent right after `req`, each with its own batch_id, and the
  // original DoneFn runs once every part is done (with the first error).
  using ResendFn = std::function<void(Req* req, std::vector<Req>* more)>;

  ReliableSender(ReliableSenderOptions options, StartCallFn start_call,
                 ResendFn on_resend = nullptr)
      : options_(std::move(options)),
        start_call_(std::move(start_call)),
        on_resend_(std::move(on_resend)) {
    channel_ =
        MakeChannel(options_.target, options_.creds, options_.server_name, options_.lb_policy);
    stub_ = Service::NewStub(channel_);
    thread_ = std::thread([this] { Run(); });
  }

  ~ReliableSender() { Shutdown(); }

  // Queues `req` (its batch_id is assigned here); blocks while the queue is
  // full. Fails at once if the sender has given up or is shutting down.
  absl::Status Send(Req req, DoneFn done) {
    DoneFn dropped_done;
    absl::Status result;
    {
      absl::MutexLock l(&mu_);
      result = SendLocked(std::move(req), std::move(done), &dropped_done);
    }
    // Outside the lock: a DoneFn may do anything.
    if (dropped_done)
      dropped_done(absl::ResourceExhaustedError(absl::StrCat(
          "dropped: the send buffer to ", options_.peer_name, " was full (drop_oldest policy)")));
    return result;
  }

  uint64_t dropped() {
    absl::MutexLock l(&mu_);
    return dropped_;
  }

 private:
  absl::Status SendLocked(Req req, DoneFn done, DoneFn* dropped_done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return queue_.size() < options_.max_queued || !failed_.ok() || shutdown_;
    };
    if (!has_room()) {
      if (options_.drop_oldest_when_full) {
        // Keep capture going: the oldest waiting request makes room.
        ++dropped_;
        *dropped_done = std::move(queue_.front().done);
        queue_.pop_front();
      } else {
        ++blocked_sends_;
        const absl::Time since = absl::Now();
        mu_.Await(absl::Condition(&has_room));
        blocked_time_ += absl::Now() - since;
      }
    }
    if (!failed_.ok()) return failed_;
    if (shutdown_) return absl::CancelledError("sender is shutting down");
    req.set_batch_id(next_id_++);
    // The sender's thread writes it (see Run): never the caller's thread.
    queue_.push_back(Item{std::move(req), std::move(done), absl::InfinitePast(), false});
    return absl::OkStatus();
  }

 public:
  // Blocks until every request sent so far is acknowledged or has failed.
  absl::Status Flush() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](ReliableSender* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
          return (s->queue_.empty() && s->in_flight_.empty() && s->callbacks_running_ == 0) ||
                 !s->failed_.ok();
        },
        this));
    return failed_;
  }

  // Stops the sender. Requests not yet acknowledged fail with CANCELLED.
  void Shutdown() {
    {
      absl::MutexLock l(&mu_);
      if (shutdown_) return;
      shutdown_ = true;  // an idle stream is half-closed by Run()
      if (stream_ != nullptr && (!queue_.empty() || !in_flight_.empty())) stream_->Cancel();
    }
    if (thread_.joinable()) thread_.join();
  }

  absl::Status status() {
    absl::MutexLock l(&mu_);
    return failed_;
  }
  size_t pending() {
    absl::MutexLock l(&mu_);
    return queue_.size() + in_flight_.size();
  }
  uint64_t resent() {
    absl::MutexLock l(&mu_);
    return resent_;
  }
  uint64_t reconnects() {
    absl::MutexLock l(&mu_);
    return reconnects_;
  }
  // Time callers of Send() spent waiting for room, in total.
  absl::Duration blocked_time() {
    absl::MutexLock l(&mu_);
    return blocked_time_;
  }
  uint64_t blocked_sends() {
    absl::MutexLock l(&mu_);
    return blocked_sends_;
  }

 private:
  struct Item {
    Req req;
    DoneFn done;
    absl::Time sent_at;
    bool resent;  // was unacknowledged when a stream failed
  };

  // The DoneFn of a request split by the resend hook, shared by its parts.
  struct SplitDone {
    explicit SplitDone(DoneFn fn, size_t n) : done(std::move(fn)), remaining(n) {}
    void PartDone(const absl::Status& st) {
      DoneFn fn;
      absl::Status result;
      {
        absl::MutexLock l(&mu);
        if (!st.ok() && first_error.ok()) first_error = st;
        if (--remaining > 0) return;
        fn = std::move(done);
        result = first_error;
      }
      if (fn) fn(result);
    }
    absl::Mutex mu;
    DoneFn done ABSL_GUARDED_BY(mu);
    size_t remaining ABSL_GUARDED_BY(mu);
    absl::Status first_error ABSL_GUARDED_BY(mu);
  };

  class Stream : public Reactor {
   public:
    Stream(ReliableSender* s) : s_(s) {}

    void Start() {
      s_->start_call_(s_->stub_.get(), &ctx_, this);
      // Run() holds the call open (no OnDone) while it may still start a
      // write outside the lock; it lets go once the stream has ended.
      this->AddHold();
      this->StartRead(&ack_);
      this->StartCall();
    }

    // Whether Run() has something to do on this stream: write the next
    // request, half-close it, let go of an ended stream, or clean up.
    bool NeedsAttentionLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
      if (done_ || (reads_done_ && !hold_released_)) return true;
      if (reads_done_ || write_in_flight_ || writes_done_) return false;
      return s_->CanSendLocked() || (s_->shutdown_ && !s_->HasWork());
    }

    // Moves the next request to in_flight_ and returns it for writing, or
    // half-closes an idle stream at shutdown. Only Run() calls it.
    const Req* NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
      if (write_in_flight_ || writes_done_ || reads_done_ || done_) return nullptr;
      if (s_->CanSendLocked()) {
        Item item = std::move(s_->queue_.front());
        s_->queue_.pop_front();
        item.sent_at = absl::Now();
        const uint64_t id = item.req.batch_id();
        auto it = s_->in_flight_.emplace(id, std::move(item)).first;
        write_in_flight_ = true;
        writing_id_ = id;
        return &it->second.req;
      }
      if (s_->shutdown_ && !s_->HasWork()) {
        writes_done_ = true;
        this->StartWritesDone();
      }
      return nullptr;
    }

    // Once no ack can come any more (the peer finished, or the call failed
    // or was cancelled), Run() drops its hold so that OnDone follows.
    bool ShouldReleaseHoldLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
      if (!reads_done_ || hold_released_) return false;
      hold_released_ = true;
      return true;
    }

    void Cancel() { ctx_.TryCancel(); }

    void OnWriteDone(bool ok) override {
      std::vector<std::pair<DoneFn, absl::Status>> done;
      {
        absl::MutexLock l(&s_->mu_);
        write_in_flight_ = false;
        // The request must outlive its write, so an ack that overtook the
        // write completion is finished here.
        if (deferred_ack_) {
          deferred_ack_ = false;
          FinishLocked(writing_id_, deferred_error_, &done);
        }
      }
      s_->RunCallbacks(&done);
    }

    void OnReadDone(bool ok) override {
      if (!ok) {  // the stream has ended; OnDone follows once Run() lets go
        absl::MutexLock l(&s_->mu_);
        reads_done_ = true;
        return;
      }
      std::vector<std::pair<DoneFn, absl::Status>> done;
      {
        absl::MutexLock l(&s_->mu_);
        const uint64_t id = ack_.batch_id();
        absl::Status st =
            ack_.error().empty()
                ? absl::OkStatus()
                : absl::InternalError(absl::StrCat(s_->options_.peer_name, ": ", ack_.error()));
        if (write_in_flight_ && id == writing_id_) {
          deferred_ack_ = true;
          deferred_error_ = st;
        } else {
          FinishLocked(id, st, &done);
        }
        progress_ = true;
      }
      s_->RunCallbacks(&done);
      this->StartRead(&ack_);
    }

    void OnDone(const grpc::Status& status) override {
      absl::MutexLock l(&s_->mu_);
      status_ = status;
      done_ = true;
    }

    bool done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) { return done_; }
    bool progress() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) { return progress_; }
    const grpc::Status& status() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) { return status_; }

   private:
    void FinishLocked(uint64_t id, const absl::Status& st,
                      std::vector<std::pair<DoneFn, absl::Status>>* done)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
      auto it = s_->in_flight_.find(id);
      if (it == s_->in_flight_.end()) return;  // a duplicate ack
      if (it->second.done) {
        done->emplace_back(std::move(it->second.done), st);
        ++s_->callbacks_running_;  // Flush() waits for them to have run
      }
      s_->in_flight_.erase(it);
    }

    ReliableSender* s_;
    grpc::ClientContext ctx_;
    Ack ack_;
    bool write_in_flight_ = false;
    bool writes_done_ = false;
    bool reads_done_ = false;
    bool hold_released_ = false;
    bool done_ = false;
    bool progress_ = false;
    bool deferred_ack_ = false;
    absl::Status deferred_error_;
    uint64_t writing_id_ = 0;
    grpc::Status status_;
  };

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || !in_flight_.empty();
  }

  // Whether the front of the queue may be written now.
  bool CanSendLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queue_.empty() || in_flight_.size() >= options_.max_in_flight) return false;
    if (!options_.isolate_resends) return true;
    if (queue_.front().resent) return in_flight_.empty();
    for (const auto& [id, item] : in_flight_) {
      if (item.resent) return false;
    }
    return true;
  }

  // Puts every unacknowledged request back at the front of the queue, in
  // order, through the resend hook.
  void RequeueInFlightLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Item> back;
    for (auto& [id, item] : in_flight_) {
      ++resent_;
      item.resent = true;
      std::vector<Req> more;
      if (on_resend_) on_resend_(&item.req, &more);
      if (more.empty()) {
        back.push_back(std::move(item));
        continue;
      }
      auto split = std::make_shared<SplitDone>(std::move(item.done), more.size() + 1);
      auto part_done = [split](const absl::Status& st) { split->PartDone(st); };
      item.done = part_done;
      back.push_back(std::move(item));
      for (Req& part : more) {
        part.set_batch_id(next_id_++);
        back.push_back(Item{std::move(part), part_done, absl::InfinitePast(), true});
      }
    }
    in_flight_.clear();
    for (auto it = back.rbegin(); it != back.rend(); ++it) queue_.push_front(std::move(*it));
  }

  // Fails every pending request; called when giving up or shutting down.
  void FailAll(const absl::Status& st) {
    std::vector<DoneFn> fns;
    {
      absl::MutexLock l(&mu_);
      for (auto& [id, item] : in_flight_) fns.push_back(std::move(item.done));
      for (auto& item : queue_) fns.push_back(std::move(item.done));
      in_flight_.clear();
      queue_.clear();
    }
    for (auto& fn : fns) {
      if (fn) fn(st);
    }
  }

  void GiveUp(const absl::Status& st) {
    {
      absl::MutexLock l(&mu_);
      failed_ = st;
    }
    FailAll(st);  // the owner reports the failure
  }

  // The connection loop: connect, run a stream until it ends, resend.
  void Run() {
    absl::Time disconnected_since = absl::Now();
    absl::Time last_warning = absl::InfinitePast();
    absl::Duration backoff = absl::Milliseconds(100);
    for (;;) {
      {
        absl::MutexLock l(&mu_);
        mu_.Await(absl::Condition(
            +[](ReliableSender* s)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->shutdown_ || s->HasWork(); },
            this));
        if (shutdown_ && !HasWork()) return;
        if (shutdown_) break;
      }
      // Work is waiting: make sure there is a connection.
      const absl::Time now = absl::Now();
      if (!channel_->WaitForConnected(absl::ToChronoTime(now + absl::Seconds(1)))) {
        const absl::Duration down = absl::Now() - disconnected_since;
        if (status().ok() && down > options_.give_up_after) {
          GiveUp(absl::UnavailableError(absl::StrCat(
              "cannot reach ", options_.peer_name, " at ", options_.target, ": no connection for ",
              absl::FormatDuration(absl::Trunc(down, absl::Seconds(1))))));
          return;
        }
        if (absl::Now() - last_warning > absl::Seconds(5)) {
          LogWarning("waiting for %s at %s (%s so far)", options_.peer_name, options_.target,
                     absl::FormatDuration(absl::Trunc(down, absl::Seconds(1))));
          last_warning = absl::Now();
        }
        continue;
      }
      auto stream = std::make_unique<Stream>(this);
      // Shutdown() may cancel the current stream at any time, so it becomes
      // current only once Start() has bound it to a call.
      stream->Start();
      {
        absl::MutexLock l(&mu_);
        stream_ = stream.get();
      }
      bool made_progress = false;
      grpc::Status status;
      {
        absl::MutexLock l(&mu_);
        absl::Time next_check = absl::Now() + absl::Seconds(1);
        for (;;) {
          mu_.AwaitWithDeadline(absl::Condition(
                                    +[](Stream* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                      return s->NeedsAttentionLocked();
                                    },
                                    stream.get()),
                                next_check);
          if (stream->done()) break;
          if (stream->ShouldReleaseHoldLocked()) {
            mu_.Unlock();
            stream->RemoveHold();
            mu_.Lock();
            continue;
          }
          // Writes start here, outside the lock: gRPC may run the write
          // (framing, sendmsg) on the thread that starts it, and that must
          // be neither the producer's thread (capture) nor one holding mu_.
          // The request stays put in in_flight_ meanwhile: only this thread
          // moves requests, and an ack can only erase one already written.
          if (const Req* req = stream->NextWriteLocked()) {
            mu_.Unlock();
            stream->StartWrite(req);
            mu_.Lock();
          }
          if (absl::Now() < next_check) continue;
          next_check = absl::Now() + absl::Seconds(1);
          // An ack that never comes means a stuck peer: start over elsewhere.
          for (const auto& [id, item] : in_flight_) {
            if (absl::Now() - item.sent_at > options_.ack_timeout) {
              LogWarning("%s at %s did not acknowledge batch %d within %s; reconnecting",
                         options_.peer_name, options_.target, id,
                         absl::FormatDuration(options_.ack_timeout));
              stream->Cancel();
              break;
            }
          }
        }
        stream_ = nullptr;
        made_progress = stream->progress();
        status = stream->status();
        // Everything unacknowledged goes back to the front of the queue, in order.
        RequeueInFlightLocked();
        if (!shutdown_ || HasWork()) ++reconnects_;
      }
      stream.reset();
      if (made_progress) {
        disconnected_since = absl::Now();
        backoff = absl::Milliseconds(100);
      }
      {
        absl::MutexLock l(&mu_);
        if (shutdown_ && !HasWork()) return;
        if (shutdown_) break;
      }
      if (!status.ok()) {
        LogWarning("stream to %s at %s ended: %s; resending unacknowledged batches",
                   options_.peer_name, options_.target, status.error_message());
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(5));
      }
      if (absl::Now() - disconnected_since > options_.give_up_after) {
        GiveUp(absl::UnavailableError(absl::StrCat(options_.peer_name, " at ", options_.target,
                                                   " keeps failing: ", status.error_message())));
        return;
      }
    }
    FailAll(absl::CancelledError("sender shut down before delivery"));
  }

  const ReliableSenderOptions options_;
  const StartCallFn start_call_;
  const ResendFn on_resend_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;

  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Item> in_flight_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t resent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t blocked_sends_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration blocked_time_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  int callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;  // acknowledged, DoneFn not yet returned

  void RunCallbacks(std::vector<std::pair<DoneFn, absl::Status>>* done) {
    for (auto& [fn, st] : *done) fn(st);
    if (done->empty()) return;
    absl::MutexLock l(&mu_);
    callbacks_running_ -= static_cast<int>(done->size());
  }
  std::thread thread_;
};

}  // namespace gourmet
