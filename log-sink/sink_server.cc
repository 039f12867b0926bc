#include "log-sink/sink_server.h"

#include "absl/strings/str_cat.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "log-sink/record_format.h"
#include "services/acking_stream.h"
#include "services/grpc_util.h"
#include "services/log.h"
#include "services/metrics.h"

namespace gourmet::sink {

std::vector<FlagSpec> SinkFlags() {
  return {
      {"listen", 'l', "listen", "HOST:PORT", "address of the LogSink gRPC service (port 0 = any)"},
      {"output", 'o', "log_path", "FILE", "the JSON-lines log to append to"},
      {"fsync", 0, "fsync", "POLICY",
       "group (fsync before each ack, grouped) or none (ack after write)"},
      {"metrics", 0, "metrics_listen", "HOST:PORT", "serve Prometheus /metrics here ('' = off)"},
      {"port-file", 0, "port_file", "FILE", "write the bound gRPC port here once serving"},
  };
}

absl::StatusOr<SinkConfig> SinkConfigFromYaml(ConfigReader* r) {
  SinkConfig c;
  c.listen = r->String("listen", c.listen);
  c.metrics_listen = r->String("metrics_listen", c.metrics_listen);
  c.log_path = r->String("log_path", c.log_path);
  const std::string fsync = r->String("fsync", "group");
  if (fsync == "group") {
    c.fsync = FsyncPolicy::kGroup;
  } else if (fsync == "none") {
    c.fsync = FsyncPolicy::kNone;
  } else {
    r->Fail("fsync", absl::StrCat("'", fsync, "' is not a policy (group, none)"));
  }
  c.max_batches_per_stream = r->Int("max_batches_per_stream", 16, 1, 1024);
  r->String("port_file", "");  // read by main
  if (c.log_path.empty()) r->Fail("log_path", "must not be empty");
  return c;
}

class SinkServer::Impl final : public gourmet::v1::LogSink::CallbackService {
 public:
  Impl(SinkConfig config, std::shared_ptr<prometheus::Registry> registry)
      : config_(std::move(config)),
        registry_(std::move(registry)),
        batches_(NewCounter(*registry_, "gourmet_sink_batches_total", "Ingest batches received")),
        records_in_(NewCounter(*registry_, "gourmet_sink_records_received_total",
                               "Records received, resends included")),
        errors_(NewCounter(*registry_, "gourmet_sink_write_errors_total",
                           "Batches that could not be made durable")),
        records_(NewGauge(*registry_, "gourmet_sink_records", "Records in the log")),
        duplicates_(NewGauge(*registry_, "gourmet_sink_duplicates_dropped",
                             "Resent records recognised and dropped")),
        log_bytes_(NewGauge(*registry_, "gourmet_sink_log_bytes", "Bytes in the log")),
        fsync_seconds_(
            prometheus::BuildHistogram()
                .Name("gourmet_sink_ingest_seconds")
                .Help("Time from receiving a batch to its durable write")
                .Register(*registry_)
                .Add({}, prometheus::Histogram::BucketBoundaries{1e-4, 1e-3, 1e-2, 0.1, 1, 10})) {}

  absl::Status Init() {
    auto log = DurableLog::Open(config_.log_path, config_.fsync);
    if (!log.ok()) return log.status();
    log_ = std::move(*log);
    UpdateGauges();
    auto server = StartGrpcServer(config_.listen, {this});
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    LogInfo("serving LogSink on port %d, writing %s (%d records already there)", server_.port,
            config_.log_path, log_->records());
    return absl::OkStatus();
  }

  void Shutdown() {
    if (server_.server)
      server_.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    log_.reset();  // finishes queued writes
  }

  int port() const { return server_.port; }
  uint64_t records() const { return log_ ? log_->records() : 0; }

  grpc::ServerBidiReactor<gourmet::v1::IngestBatch, gourmet::v1::IngestAck>* Ingest(
      grpc::CallbackServerContext* ctx) override {
    return new Stream(config_.max_batches_per_stream,
                      [this](std::shared_ptr<gourmet::v1::IngestBatch> batch, Stream::DoneFn done) {
                        batches_.Increment();
                        records_in_.Increment(batch->records_size());
                        std::vector<std::pair<std::string, std::string>> lines;
                        lines.reserve(batch->records_size());
                        for (const auto& rec : batch->records())
                          lines.emplace_back(rec.conn().uid(), RenderRecord(rec));
                        const absl::Time t0 = absl::Now();
                        log_->Append(std::move(lines), [this, t0, done = std::move(done)](
                                                           const absl::Status& st) {
                          fsync_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - t0));
                          if (!st.ok()) errors_.Increment();
                          UpdateGauges();
                          done(st);
                        });
                      });
  }

  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* ctx,
                                  const gourmet::v1::StatsRequest*,
                                  gourmet::v1::StatsReply* reply) override {
    reply->set_records(log_->records());
    reply->set_bytes(log_->bytes());
    reply->set_segments(1);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  using Stream = AckingServerStream<gourmet::v1::IngestBatch, gourmet::v1::IngestAck>;

  void UpdateGauges() {
    records_.Set(log_->records());
    duplicates_.Set(log_->duplicates());
    log_bytes_.Set(log_->bytes());
  }

  SinkConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter& batches_;
  prometheus::Counter& records_in_;
  prometheus::Counter& errors_;
  prometheus::Gauge& records_;
  prometheus::Gauge& duplicates_;
  prometheus::Gauge& log_bytes_;
  prometheus::Histogram& fsync_seconds_;
  std::unique_ptr<DurableLog> log_;
  StartedServer server_;
};

absl::StatusOr<std::unique_ptr<SinkServer>> SinkServer::Start(
    SinkConfig config, std::shared_ptr<prometheus::Registry> registry) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(registry));
  absl::Status st = impl->Init();
  if (!st.ok()) return st;
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
