#include "log-sink/sink_server.h"

#include <atomic>
#include <deque>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "log-sink/json_scan.h"
#include "log-sink/log_query.h"
#include "log-sink/query.h"
#include "log-sink/record_format.h"
#include "services/acking_stream.h"
#include "services/grpc_util.h"
#include "services/log.h"
#include "services/metrics.h"

namespace gourmet::sink {

std::vector<FlagSpec> SinkFlags() {
  return {
      {"listen", 'l', "listen", "HOST:PORT", "address of the LogSink gRPC service (port 0 = any)"},
      {"output", 'o', "log_path", "FILE",
       "the active JSON-lines segment; sealed ones sit beside it"},
      {"fsync", 0, "fsync", "POLICY",
       "always, group (default), interval or none: when an ack waits for fdatasync"},
      {"fsync-interval", 0, "fsync_interval", "DURATION",
       "fdatasync period of the interval policy"},
      {"rotate-bytes", 0, "rotate.max_bytes", "SIZE", "seal the active segment at this size"},
      {"rotate-age", 0, "rotate.max_age", "DURATION", "seal the active segment at this age"},
      {"retain-bytes", 0, "retention.max_bytes", "SIZE",
       "delete the oldest segments beyond this total (0 = no limit)"},
      {"retain-age", 0, "retention.max_age", "DURATION",
       "delete segments last written longer ago (0 = keep)"},
      {"merge-parts", 0, "merge.parts", "NAMES", "the parts a connection is complete with"},
      {"merge-window", 0, "merge.window", "DURATION", "how long to wait for missing parts"},
      {"metrics", 0, "metrics_listen", "HOST:PORT", "serve Prometheus /metrics here ('' = off)"},
      {"port-file", 0, "port_file", "FILE", "write the bound gRPC port here once serving"},
  };
}

bool ParseSize(std::string_view text, uint64_t* out) {
  absl::string_view s = absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  size_t digits = 0;
  while (digits < s.size() && absl::ascii_isdigit(s[digits])) ++digits;
  uint64_t n;
  if (digits == 0 || !absl::SimpleAtoi(s.substr(0, digits), &n)) return false;
  std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(digits)));
  uint64_t mult = 1;
  static const struct {
    const char* name;
    uint64_t mult;
  } kUnits[] = {{"", 1},
                {"b", 1},
                {"k", 1ull << 10},
                {"kib", 1ull << 10},
                {"kb", 1000},
                {"m", 1ull << 20},
                {"mib", 1ull << 20},
                {"mb", 1000000},
                {"g", 1ull << 30},
                {"gib", 1ull << 30},
                {"gb", 1000000000},
                {"t", 1ull << 40},
                {"tib", 1ull << 40},
                {"tb", 1000000000000ull}};
  bool found = false;
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      mult = u.mult;
      found = true;
    }
  }
  if (!found || (n != 0 && mult > UINT64_MAX / n)) return false;
  *out = n * mult;
  return true;
}

namespace {
uint64_t SizeKey(ConfigReader* r, const char* key, uint64_t def) {
  const std::string text = r->String(key, "");
  if (text.empty()) return def;
  uint64_t v;
  if (!ParseSize(text, &v)) {
    r->Fail(key, absl::StrCat("expected a size such as 256MiB or 1GB, got '", text, "'"));
    return def;
  }
  return v;
}
}  // namespace

absl::StatusOr<SinkConfig> SinkConfigFromYaml(ConfigReader* r) {
  SinkConfig c;
  c.listen = r->String("listen", c.listen);
  c.tls = TlsConfigFromYaml(r);
  const std::string token_file = r->String("auth.token_file", "");
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::string token;
    if (!in || !std::getline(in, token) || token.empty()) {
      r->Fail("auth.token_file", absl::StrCat("cannot read a token from '", token_file, "'"));
    }
    c.auth_token = token;
  }
  c.metrics_listen = r->String("metrics_listen", c.metrics_listen);
  c.log_path = r->String("log_path", c.log_path);
  const std::string fsync = r->String("fsync", "group");
  auto policy = ParseFsyncPolicy(fsync);
  if (policy.ok()) {
    c.fsync = *policy;
  } else {
    r->Fail("fsync", policy.status().message());
  }
  c.fsync_interval = r->Duration("fsync_interval", c.fsync_interval);
  if (c.fsync_interval <= absl::ZeroDuration()) r->Fail("fsync_interval", "must be positive");
  c.max_batches_per_stream = r->Int("max_batches_per_stream", 16, 1, 1024);
  c.rotate_bytes = SizeKey(r, "rotate.max_bytes", c.rotate_bytes);
  if (c.rotate_bytes != 0 && c.rotate_bytes < 4096)
    r->Fail("rotate.max_bytes", "must be 0 (never) or at least 4KiB");
  c.rotate_age = r->Duration("rotate.max_age", c.rotate_age);
  c.retain_bytes = SizeKey(r, "retention.max_bytes", c.retain_bytes);
  c.retain_age = r->Duration("retention.max_age", c.retain_age);
  std::vector<std::string> parts = r->StringList("merge.parts");
  if (!parts.empty()) c.merge.parts = parts;
  for (size_t i = 0; i < c.merge.parts.size(); ++i) {
    if (c.merge.parts[i].empty()) r->Fail("merge.parts", "a part name is empty");
    for (size_t j = 0; j < i; ++j) {
      if (c.merge.parts[i] == c.merge.parts[j])
        r->Fail("merge.parts", absl::StrCat("'", c.merge.parts[i], "' is listed twice"));
    }
  }
  c.merge.window = r->Duration("merge.window", c.merge.window);
  if (c.merge.window <= absl::ZeroDuration()) r->Fail("merge.window", "must be positive");
  c.merge.max_pending = r->Int("merge.max_pending", c.merge.max_pending, 1, 100000000);
  c.max_queries = r->Int("query.max_concurrent", c.max_queries, 1, 10000);
  c.tail_buffer_bytes = SizeKey(r, "tail.max_buffer", c.tail_buffer_bytes);
  r->String("port_file", "");  // read by main
  if (c.log_path.empty()) r->Fail("log_path", "must not be empty");
  return c;
}

namespace {

using gourmet::v1::QueryRequest;
using gourmet::v1::QueryResult;

// Streams the lines a worker thread produces, one write in flight (that is
// the flow control: the worker blocks while the client is behind).
class LineStream : public grpc::ServerWriteReactor<QueryResult> {
 public:
  using Work = std::function<grpc::Status(LineStream*)>;

  LineStream(Work work, std::function<void()> on_done) : on_done_(std::move(on_done)) {
    worker_ = std::thread([this, work = std::move(work)] { WorkerDone(work(this)); });
  }

  // Queues a line for the client; blocks while too much is queued. False
  // once the client is gone.
  bool Push(std::string_view line) {
    absl::MutexLock l(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return cancelled_ || (queue_.size() < 512 && queued_bytes_ < (4 << 20));
    };
    mu_.Await(absl::Condition(&room));
    if (cancelled_) return false;
    queued_bytes_ += line.size();
    queue_.emplace_back(line);
    PumpLocked();
    return true;
  }
  const std::atomic<bool>* cancelled_flag() const { return &cancelled_atomic_; }
  bool cancelled() const { return cancelled_atomic_.load(); }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    write_in_flight_ = false;
    if (!ok) CancelLocked();
    PumpLocked();
  }
  void OnCancel() override {
    absl::MutexLock l(&mu_);
    CancelLocked();
    PumpLocked();
  }
  void OnDone() override {
    worker_.join();
    if (on_done_) on_done_();
    delete this;
  }

 private:
  void CancelLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    cancelled_ = true;
    cancelled_atomic_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  void WorkerDone(grpc::Status st) {
    absl::MutexLock l(&mu_);
    worker_done_ = true;
    final_ = std::move(st);
    PumpLocked();
  }
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write_in_flight_ || finished_) return;
    if (!queue_.empty()) {
      out_.set_json(std::move(queue_.front()));
      queued_bytes_ -= out_.json().size();
      queue_.pop_front();
      write_in_flight_ = true;
      StartWrite(&out_);
      return;
    }
    if (worker_done_) {
      finished_ = true;
      Finish(final_);
    }
  }

  std::function<void()> on_done_;
  std::thread worker_;
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> cancelled_atomic_{false};
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool worker_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_ ABSL_GUARDED_BY(mu_);
  QueryResult out_;
};

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// Lines the log wrote since a Tail subscribed, waiting for its worker.
class TailQueue {
 public:
  explicit TailQueue(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  void Push(std::shared_ptr<const std::string> chunk) {
    absl::MutexLock l(&mu_);
    if (overflow_) return;
    if (bytes_ + chunk->size() > max_bytes_) {
      overflow_ = true;
      chunks_.clear();
      return;
    }
    bytes_ += chunk->size();
    chunks_.push_back(std::move(chunk));
  }
  // Waits up to `wait` for chunks; sets *overflow when the reader fell behind.
  std::vector<std::shared_ptr<const std::string>> Take(absl::Duration wait, bool* overflow) {
    absl::MutexLock l(&mu_);
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return overflow_ || !chunks_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
    *overflow = overflow_;
    std::vector<std::shared_ptr<const std::string>> out(chunks_.begin(), chunks_.end());
    chunks_.clear();
    bytes_ = 0;
    return out;
  }

 private:
  const uint64_t max_bytes_;
  absl::Mutex mu_;
  std::deque<std::shared_ptr<const std::string>> chunks_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
};

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

class SinkServer::Impl final : public gourmet::v1::LogSink::CallbackService {
 public:
  Impl(SinkConfig config, std::shared_ptr<prometheus::Registry> registry)
      : config_(std::move(config)),
        registry_(std::move(registry)),
        batches_(NewCounter(*registry_, "gourmet_sink_batches_total", "Ingest batches received")),
        records_in_(NewCounter(*registry_, "gourmet_sink_records_received_total",
                               "Records (parts) received, resends included")),
        records_written_(NewCounter(*registry_, "gourmet_sink_records_written_total",
                                    "Records written to the log (the ingest rate)")),
        bytes_written_(
            NewCounter(*registry_, "gourmet_sink_bytes_written_total", "Bytes written to the log")),
        errors_(NewCounter(*registry_, "gourmet_sink_write_errors_total",
                           "Batches that could not be made durable")),
        rotations_(NewCounter(*registry_, "gourmet_sink_rotations_total", "Segments sealed")),
        deleted_size_(NewCounter(*registry_, "gourmet_sink_segments_deleted_total",
                                 "Segments deleted by retention", {{"reason", "size"}})),
        deleted_age_(NewCounter(*registry_, "gourmet_sink_segments_deleted_total",
                                "Segments deleted by retention", {{"reason", "age"}})),
        records_(NewGauge(*registry_, "gourmet_sink_records", "Records in the log")),
        duplicates_(NewGauge(*registry_, "gourmet_sink_duplicates_dropped",
                             "Resent records recognised and dropped since start")),
        log_bytes_(NewGauge(*registry_, "gourmet_sink_log_bytes", "Bytes in the log segments")),
        index_bytes_(NewGauge(*registry_, "gourmet_sink_index_bytes", "Bytes of segment indexes")),
        segments_(
            NewGauge(*registry_, "gourmet_sink_segments", "Segments, the active one included")),
        pending_parts_(NewGauge(*registry_, "gourmet_sink_merge_pending_parts",
                                "Parts waiting for the rest of their connection")),
        incomplete_(NewGauge(*registry_, "gourmet_sink_merge_incomplete",
                             "Connections written with parts missing since start")),
        late_parts_(NewGauge(*registry_, "gourmet_sink_merge_late_parts",
                             "Parts that arrived after their connection was written incomplete")),
        tail_clients_(NewGauge(*registry_, "gourmet_sink_tail_clients", "Tail calls following")),
        ingest_seconds_(prometheus::BuildHistogram()
                            .Name("gourmet_sink_ingest_seconds")
                            .Help("Time from receiving a batch to acknowledging it")
                            .Register(*registry_)
                            .Add({}, kLatencyBuckets)),
        fsync_seconds_(prometheus::BuildHistogram()
                           .Name("gourmet_sink_fsync_seconds")
                           .Help("Time of each fdatasync of the log")
                           .Register(*registry_)
                           .Add({}, kLatencyBuckets)),
        query_seconds_(prometheus::BuildHistogram()
                           .Name("gourmet_sink_query_seconds")
                           .Help("Time to answer a Query, from call to last result")
                           .Register(*registry_)
                           .Add({}, kLatencyBuckets)),
        queries_(prometheus::BuildCounter()
                     .Name("gourmet_sink_queries_total")
                     .Help("Query and Tail calls by result code")
                     .Register(*registry_)) {}

  absl::Status Init() {
    LogOptions o;
    o.path = config_.log_path;
    o.fsync = config_.fsync;
    o.fsync_interval = config_.fsync_interval;
    o.rotate_bytes = config_.rotate_bytes;
    o.rotate_age = config_.rotate_age;
    o.retain_bytes = config_.retain_bytes;
    o.retain_age = config_.retain_age;
    o.metrics.fsync_seconds = &fsync_seconds_;
    o.metrics.records_written = &records_written_;
    o.metrics.bytes_written = &bytes_written_;
    o.metrics.rotations = &rotations_;
    o.metrics.deleted_by_size = &deleted_size_;
    o.metrics.deleted_by_age = &deleted_age_;
    auto log = DurableLog::Open(std::move(o));
    if (!log.ok()) return log.status();
    log_ = std::move(*log);
    merger_ = std::make_unique<Merger>(
        config_.merge, [this](const std::string& uid) { return log_->Contains(uid); });
    UpdateGauges();
    timer_ = std::thread([this] { TimerLoop(); });
    auto creds = MakeServerCredentials(config_.tls);
    if (!creds.ok()) return creds.status();
    auto server = StartGrpcServer(config_.listen, {this}, *creds);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    const LogStats s = log_->stats();
    LogInfo("serving LogSink on port %d, writing %s (%d records in %d segments already there)",
            server_.port, config_.log_path, s.records, s.segments);
    return absl::OkStatus();
  }

  void Shutdown() {
    if (shut_down_.exchange(true)) return;
    stopping_ = true;  // Tail calls end
    if (server_.server)
      server_.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    {
      absl::MutexLock l(&mu_);
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streams_ == 0; };
      mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(10));
      timer_stop_ = true;
    }
    if (timer_.joinable()) timer_.join();
    if (merger_) merger_->Clear();  // not acknowledged: the senders resend
    log_.reset();                   // writes what is queued
  }

  int port() const { return server_.port; }
  uint64_t records() const { return log_ ? log_->records() : 0; }

  grpc::ServerBidiReactor<gourmet::v1::IngestBatch, gourmet::v1::IngestAck>* Ingest(
      grpc::CallbackServerContext* ctx) override {
    return new Stream(config_.max_batches_per_stream,
                      [this](std::shared_ptr<gourmet::v1::IngestBatch> batch, Stream::DoneFn done) {
                        HandleBatch(std::move(batch), std::move(done));
                      });
  }

  grpc::ServerWriteReactor<QueryResult>* Query(grpc::CallbackServerContext* ctx,
                                               const QueryRequest* request) override {
    if (auto* refused = Authorize(ctx, "query")) return refused;
    const absl::Time t0 = absl::Now();
    return StartStream(*request, "query", [this, t0](const QueryRequest& req, LineStream* out) {
      grpc::Status st = RunQueryCall(req, out);
      if (st.ok()) query_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - t0));
      return st;
    });
  }

  grpc::ServerWriteReactor<QueryResult>* Tail(grpc::CallbackServerContext* ctx,
                                              const QueryRequest* request) override {
    if (auto* refused = Authorize(ctx, "tail")) return refused;
    return StartStream(*request, "tail", [this](const QueryRequest& req, LineStream* out) {
      return RunTailCall(req, out);
    });
  }

  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* ctx,
                                  const gourmet::v1::StatsRequest*,
                                  gourmet::v1::StatsReply* reply) override {
    const LogStats s = log_->stats();
    reply->set_records(s.records);
    reply->set_bytes(s.bytes);
    reply->set_segments(s.segments);
    reply->set_oldest_us(s.oldest_us);
    reply->set_newest_us(s.newest_us);
    reply->set_index_bytes(s.index_bytes);
    reply->set_pending_parts(merger_->pending_parts());
    reply->set_duplicates_dropped(s.duplicates + merger_->duplicate_parts());
    reply->set_incomplete(merger_->incomplete());
    reply->set_active_segment(s.active_path);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  using Stream = AckingServerStream<gourmet::v1::IngestBatch, gourmet::v1::IngestAck>;

  void HandleBatch(std::shared_ptr<gourmet::v1::IngestBatch> batch, Stream::DoneFn done) {
    batches_.Increment();
    const int n = batch->records_size();
    records_in_.Increment(n);
    if (n == 0) {
      done(absl::OkStatus());
      return;
    }
    const absl::Time t0 = absl::Now();
    auto tracker = std::make_shared<BatchTracker>(
        n, [this, t0, done = std::move(done)](const absl::Status& st) {
          ingest_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - t0));
          if (!st.ok()) errors_.Increment();
          done(st);
        });
    std::vector<Merger::Output> out;
    for (auto& rec : *batch->mutable_records()) merger_->Add(std::move(rec), tracker, t0, &out);
    Write(std::move(out));
  }

  // Renders finished records and hands them to the log; their trackers learn
  // when they are durable.
  void Write(std::vector<Merger::Output> out) {
    if (out.empty()) return;
    std::vector<LogEntry> entries;
    entries.reserve(out.size());
    std::vector<std::shared_ptr<BatchTracker>> waiters;
    for (Merger::Output& o : out) {
      // A result that is not JSON would make an invalid line, which recovery
      // would take for damage: it becomes an error on the connection instead.
      for (auto it = o.record.mutable_results()->begin();
           it != o.record.mutable_results()->end();) {
        if (json::IsValue(it->second)) {
          ++it;
          continue;
        }
        (*o.record.mutable_errors())[it->first] =
            "the result is not valid JSON; the sink dropped it";
        o.record.mutable_results()->erase(it++);
      }
      const auto& c = o.record.conn();
      entries.push_back(
          LogEntry{c.uid(), c.community_id(), c.ts_us(), RenderRecord(o.record, o.missing)});
      for (auto& w : o.waiters) waiters.push_back(std::move(w));
    }
    log_->Append(std::move(entries), [waiters = std::move(waiters)](const absl::Status& st) {
      for (const auto& w : waiters) w->RecordDone(st);
    });
  }

  void TimerLoop() {
    absl::Time last_gauges = absl::InfinitePast();
    for (;;) {
      {
        absl::MutexLock l(&mu_);
        const absl::Duration wait =
            std::min(absl::Milliseconds(200), merger_->NextDeadline() - absl::Now());
        mu_.AwaitWithTimeout(absl::Condition(&timer_stop_), std::max(wait, absl::ZeroDuration()));
        if (timer_stop_) return;
      }
      std::vector<Merger::Output> out;
      merger_->Expire(absl::Now(), &out);
      Write(std::move(out));
      if (absl::Now() - last_gauges > absl::Milliseconds(500)) {
        UpdateGauges();
        last_gauges = absl::Now();
      }
    }
  }

  void UpdateGauges() {
    const LogStats s = log_->stats();
    records_.Set(s.records);
    duplicates_.Set(s.duplicates + merger_->duplicate_parts());
    log_bytes_.Set(s.bytes);
    index_bytes_.Set(s.index_bytes);
    segments_.Set(s.segments);
    pending_parts_.Set(merger_->pending_parts());
    incomplete_.Set(merger_->incomplete());
    late_parts_.Set(merger_->late_parts());
  }

  using CallFn = std::function<grpc::Status(const QueryRequest&, LineStream*)>;

  // Query and Tail read everything the sensor saw: with a token configured
  // or mutual TLS on, they need the token or a verified client certificate.
  // Returns a reactor that refuses the call, or null when it may go on.
  grpc::ServerWriteReactor<QueryResult>* Authorize(grpc::CallbackServerContext* ctx,
                                                   const char* rpc) {
    const bool mtls = !config_.tls.ca_file.empty();
    if (config_.auth_token.empty() && !mtls) return nullptr;  // open: no auth configured
    if (mtls && ctx->auth_context() && ctx->auth_context()->IsPeerAuthenticated()) return nullptr;
    if (!config_.auth_token.empty()) {
      const auto& md = ctx->client_metadata();
      auto it = md.find("authorization");
      if (it != md.end() &&
          std::string(it->second.data(), it->second.size()) == "Bearer " + config_.auth_token) {
        return nullptr;
      }
    }
    queries_.Add({{"rpc", rpc}, {"code", "UNAUTHENTICATED"}}).Increment();
    class Refused : public grpc::ServerWriteReactor<QueryResult> {
     public:
      explicit Refused(const char* rpc) {
        Finish(
            grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                         absl::StrCat(rpc,
                                      " needs a bearer token (authorization metadata) or a client "
                                      "certificate signed by the sink's tls.ca")));
      }
      void OnDone() override { delete this; }
    };
    return new Refused(rpc);
  }

  grpc::ServerWriteReactor<QueryResult>* StartStream(const QueryRequest& request, const char* rpc,
                                                     CallFn fn) {
    {
      absl::MutexLock l(&mu_);
      if (streams_ >= config_.max_queries) {
        queries_.Add({{"rpc", rpc}, {"code", "RESOURCE_EXHAUSTED"}}).Increment();
        class Refused : public grpc::ServerWriteReactor<QueryResult> {
         public:
          explicit Refused(int max) {
            Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                absl::StrCat("the sink already runs ", max,
                                             " Query/Tail calls (query.max_concurrent)")));
          }
          void OnDone() override { delete this; }
        };
        return new Refused(config_.max_queries);
      }
      ++streams_;
    }
    const std::string name = rpc;
    return new LineStream(
        [this, request, name, fn = std::move(fn)](LineStream* out) {
          grpc::Status st = fn(request, out);
          const char* code = st.ok() ? "OK"
                             : st.error_code() == grpc::StatusCode::INVALID_ARGUMENT
                                 ? "INVALID_ARGUMENT"
                             : st.error_code() == grpc::StatusCode::CANCELLED ? "CANCELLED"
                                                                              : "OTHER";
          queries_.Add({{"rpc", name}, {"code", code}}).Increment();
          return st;
        },
        [this] {
          absl::MutexLock l(&mu_);
          --streams_;
        });
  }

  grpc::Status RunQueryCall(const QueryRequest& req, LineStream* out) {
    if (req.tail_backlog() != 0)
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "tail_backlog is for Tail; Query takes limit and order");
    auto filter = Filter::Compile(req);
    if (!filter.ok()) return ToGrpc(filter.status());
    QueryOptions o;
    o.order = req.order();
    o.limit = req.limit();
    o.cancelled = out->cancelled_flag();
    const Snapshot snap = log_->snapshot();
    absl::Status st =
        RunQuery(snap, *filter, o, [out](std::string_view line) { return out->Push(line); });
    if (out->cancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    return ToGrpc(st);
  }

  grpc::Status RunTailCall(const QueryRequest& req, LineStream* out) {
    if (req.order() != QueryRequest::TS)
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "Tail follows the log in write order; it takes no order");
    auto filter = Filter::Compile(req);
    if (!filter.ok()) return ToGrpc(filter.status());
    auto queue = std::make_shared<TailQueue>(config_.tail_buffer_bytes);
    Snapshot snap;
    const uint64_t id = log_->Subscribe(
        [queue](std::shared_ptr<const std::string> chunk) { queue->Push(std::move(chunk)); },
        &snap);
    tail_clients_.Increment();
    uint64_t sent = 0;
    const uint64_t limit = req.limit();
    auto send = [&](std::string_view line) {
      if (!out->Push(line)) return false;
      return limit == 0 || ++sent < limit;
    };
    grpc::Status result = grpc::Status::OK;
    bool more = true;
    if (req.tail_backlog() > 0) {
      // The last N matches already written, oldest first.
      std::vector<std::string> backlog;
      QueryOptions o;
      o.order = QueryRequest::TS_DESC;
      o.limit = req.tail_backlog();
      o.cancelled = out->cancelled_flag();
      RunQuery(snap, *filter, o, [&backlog](std::string_view line) {
        backlog.emplace_back(line);
        return true;
      }).IgnoreError();
      for (auto it = backlog.rbegin(); it != backlog.rend() && more; ++it) more = send(*it);
    }
    snap = Snapshot();  // let retention reclaim what it deletes meanwhile
    while (more && !out->cancelled()) {
      if (stopping_) {
        result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the sink is shutting down");
        break;
      }
      bool overflow = false;
      auto chunks = queue->Take(absl::Milliseconds(200), &overflow);
      if (overflow) {
        result = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              absl::StrCat("the client fell more than ", config_.tail_buffer_bytes,
                                           " bytes behind the log (tail.max_buffer)"));
        break;
      }
      for (const auto& chunk : chunks) {
        const char* p = chunk->data();
        const char* end = p + chunk->size();
        while (p < end && more) {
          const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
          const char* stop = nl ? nl : end;
          const std::string_view line(p, stop - p);
          if (filter->Matches(line)) more = send(line);
          p = stop + 1;
        }
        if (!more) break;
      }
    }
    log_->Unsubscribe(id);
    tail_clients_.Decrement();
    if (out->cancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    return result;
  }

  SinkConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter& batches_;
  prometheus::Counter& records_in_;
  prometheus::Counter& records_written_;
  prometheus::Counter& bytes_written_;
  prometheus::Counter& errors_;
  prometheus::Counter& rotations_;
  prometheus::Counter& deleted_size_;
  prometheus::Counter& deleted_age_;
  prometheus::Gauge& records_;
  prometheus::Gauge& duplicates_;
  prometheus::Gauge& log_bytes_;
  prometheus::Gauge& index_bytes_;
  prometheus::Gauge& segments_;
  prometheus::Gauge& pending_parts_;
  prometheus::Gauge& incomplete_;
  prometheus::Gauge& late_parts_;
  prometheus::Gauge& tail_clients_;
  prometheus::Histogram& ingest_seconds_;
  prometheus::Histogram& fsync_seconds_;
  prometheus::Histogram& query_seconds_;
  prometheus::Family<prometheus::Counter>& queries_;
  std::unique_ptr<DurableLog> log_;
  std::unique_ptr<Merger> merger_;
  StartedServer server_;
  std::thread timer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> shut_down_{false};
  absl::Mutex mu_;
  bool timer_stop_ ABSL_GUARDED_BY(mu_) = false;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;  // Query and Tail calls running
};

absl::StatusOr<std::unique_ptr<SinkServer>> SinkServer::Start(
    SinkConfig config, std::shared_ptr<prometheus::Registry> registry) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(registry));
  absl::Status st = impl->Init();
  if (!st.ok()) {
    impl->Shutdown();
    return st;
  }
  return std::unique_ptr<SinkServer>(new SinkServer(std::move(impl)));
}

SinkServer::SinkServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SinkServer::~SinkServer() { Shutdown(); }
int SinkServer::port() const { return impl_->port(); }
uint64_t SinkServer::records() const { return impl_->records(); }
void SinkServer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

}  // namespace gourmet::sink
