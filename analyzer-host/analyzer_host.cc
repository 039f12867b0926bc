#include "analyzer-host/analyzer_host.h"

#include <atomic>
#include <deque>
#include <filesystem>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gourmet/v1/analyzer.grpc.pb.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "services/acking_stream.h"
#include "services/grpc_util.h"
#include "services/log.h"
#include "services/metrics.h"
#include "services/reliable_sender.h"
#include "services/thread_pool.h"

namespace gourmet::analyzer {
namespace {

using SinkSender =
    ReliableSender<gourmet::v1::LogSink, gourmet::v1::IngestBatch, gourmet::v1::IngestAck>;

// Where the host's own errors about a connection go in `_errors`.
constexpr char kHostErrorKey[] = "analyzer";

nlohmann::json YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& v : n) a.push_back(YamlToJson(v));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted in YAML: keep as a string
      int64_t i;
      double d;
      bool b;
      if (absl::SimpleAtoi(s, &i)) return i;
      if (absl::SimpleAtod(s, &d) && s.find_first_of("0123456789") != std::string::npos) return d;
      if (s == "true" || s == "false") return absl::SimpleAtob(s, &b) && b;
      return s;
    }
    default:
      return nullptr;
  }
}

}  // namespace

std::vector<FlagSpec> AnalyzerFlags() {
  return {
      {"listen", 'l', "listen", "HOST:PORT", "address of the Analyzer gRPC service (port 0 = any)"},
      {"sink", 's', "sink", "HOST:PORT", "log sink to send results to"},
      {"sinks", 0, "sinks", "LIST", "several sinks, sharded by uid hash (comma-separated)"},
      {"metrics", 0, "metrics_listen", "HOST:PORT", "serve Prometheus /metrics here ('' = off)"},
      {"workers", 'w', "workers", "N", "analysis threads"},
      {"plugin-dir", 0, "plugin_dir", "DIR", "where plugins named without a path are found"},
      {"plugins", 'p', "plugins", "NAMES",
       "comma-separated plugin names (overrides the config's list)"},
      {"port-file", 0, "port_file", "FILE", "write the bound gRPC port here once serving"},
  };
}

absl::StatusOr<AnalyzerConfig> AnalyzerConfigFromYaml(ConfigReader* r) {
  AnalyzerConfig c;
  c.listen = r->String("listen", c.listen);
  c.sink = r->String("sink", c.sink);
  c.sinks = r->StringList("sinks");
  if (c.sinks.empty()) c.sinks.push_back(c.sink);
  c.tls = TlsConfigFromYaml(r);
  c.max_connection_age = r->Duration("max_connection_age", absl::Minutes(5));
  c.metrics_listen = r->String("metrics_listen", c.metrics_listen);
  c.part = r->String("part", c.part);
  c.workers = r->Int("workers", 2, 1, 256);
  c.max_result_bytes = r->Int("max_result_bytes", 1 << 20, 16, 64 << 20);
  c.max_batches_per_stream = r->Int("max_batches_per_stream", 8, 1, 1024);
  c.max_attempts = r->Int("max_attempts", 3, 0, 1000);
  r->String("port_file", "");  // read by main
  const std::string dir = r->String("plugin_dir", "/usr/lib/gourmet/plugins");
  YAML::Node list = r->Node("plugins");
  if (list.IsDefined() && !list.IsNull()) {
    std::vector<YAML::Node> items;
    if (list.IsScalar()) {  // the --plugins flag: "bytes,http"
      for (const std::string& name : r->StringList("plugins")) items.push_back(YAML::Node(name));
    } else if (list.IsSequence()) {
      for (const auto& item : list) items.push_back(item);
    } else {
      r->Fail("plugins", "expected a list of plugins");
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const YAML::Node& item = items[i];
      const std::string where = absl::StrCat("plugins[", i, "]");
      PluginSpec spec;
      if (item.IsScalar()) {
        spec.name = item.Scalar();
      } else if (item.IsMap()) {
        for (const auto& kv : item) {
          const std::string k = kv.first.as<std::string>();
          if (k != "name" && k != "path" && k != "key" && k != "depends_on" && k != "config") {
            r->Fail(where,
                    absl::StrCat("unknown key '", k, "' (name, path, key, depends_on, config)"));
          }
        }
        if (item["name"]) spec.name = item["name"].as<std::string>();
        if (item["path"]) spec.path = item["path"].as<std::string>();
        if (item["key"]) spec.key = item["key"].as<std::string>();
        if (item["depends_on"]) {
          if (!item["depends_on"].IsSequence()) {
            r->Fail(where + ".depends_on", "expected a list of plugin keys");
          } else {
            for (const auto& d : item["depends_on"]) spec.depends_on.push_back(d.as<std::string>());
          }
        }
        if (item["config"]) spec.config_json = YamlToJson(item["config"]).dump();
      } else {
        r->Fail(where, "expected a plugin name or a mapping");
        continue;
      }
      if (spec.name.empty()) {
        r->Fail(where, "a plugin needs a name");
        continue;
      }
      if (spec.path.empty())
        spec.path = (std::filesystem::path(dir) / (spec.name + ".so")).string();
      if (spec.key.empty()) spec.key = spec.name;
      c.plugins.push_back(std::move(spec));
    }
  }
  return c;
}

class AnalyzerHost::Impl final : public gourmet::v1::Analyzer::CallbackService {
 public:
  Impl(AnalyzerConfig config, std::shared_ptr<prometheus::Registry> registry)
      : config_(std::move(config)),
        registry_(std::move(registry)),
        batches_(NewCounter(*registry_, "gourmet_analyzer_batches_total",
                            "Batches received from agents")),
        connections_(
            NewCounter(*registry_, "gourmet_analyzer_connections_total", "Connections analysed")),
        acked_(NewCounter(*registry_, "gourmet_analyzer_batches_acked_total",
                          "Batches acknowledged to agents after the sink stored them")),
        sink_failures_(NewCounter(*registry_, "gourmet_analyzer_sink_failures_total",
                                  "Batches the sink could not store")),
        skipped_(NewCounter(*registry_, "gourmet_analyzer_skipped_connections_total",
                            "Connections logged without analysis: their batch exceeded "
                            "max_attempts (they kept crashing analyzers)")),
        streams_(NewGauge(*registry_, "gourmet_analyzer_agent_streams", "Open agent streams")) {}

  absl::Status Init() {
    auto p = Pipeline::Create(config_.plugins, *registry_, config_.max_result_bytes);
    if (!p.ok()) return p.status();
    pipeline_ = std::move(*p);
    pool_ = std::make_unique<ThreadPool>(config_.workers, config_.workers * 4);
    auto server_creds = MakeServerCredentials(config_.tls);
    if (!server_creds.ok()) return server_creds.status();
    auto client_creds = MakeChannelCredentials(config_.tls);
    if (!client_creds.ok()) return client_creds.status();
    for (const std::string& target : config_.sinks) {
      ReliableSenderOptions o;
      o.target = target;
      o.peer_name = "sink";
      o.creds = *client_creds;
      o.server_name = config_.tls.server_name;
      // Agents resend on their own when we stall, so never give up on the sink.
      o.give_up_after = absl::InfiniteDuration();
      sinks_.push_back(std::make_unique<SinkSender>(
          o, [](gourmet::v1::LogSink::Stub* stub, grpc::ClientContext* ctx,
                SinkSender::Reactor* r) { stub->async()->Ingest(ctx, r); }));
    }
    auto server =
        StartGrpcServer(config_.listen, {this}, *server_creds, config_.max_connection_age);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    LogInfo("serving Analyzer on port %d with plugins [%s], sinks %s%s", server_.port,
            absl::StrJoin(pipeline_->keys(), ", "), absl::StrJoin(config_.sinks, ", "),
            config_.tls.enabled() ? " (TLS)" : "");
    return absl::OkStatus();
  }

  void Shutdown() {
    if (server_.server)
      server_.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    pool_.reset();
    for (auto& s : sinks_) s->Shutdown();
  }

  int port() const { return server_.port; }

  grpc::ServerBidiReactor<gourmet::v1::ConnectionBatch, gourmet::v1::BatchAck>* Analyze(
      grpc::CallbackServerContext* ctx) override {
    streams_.Increment();
    return new Stream(
        config_.max_batches_per_stream,
        [this](std::shared_ptr<gourmet::v1::ConnectionBatch> batch, Stream::DoneFn done) {
          batches_.Increment();
          pool_->Submit([this, batch, done = std::move(done)]() mutable {
            Process(*batch, std::move(done));
          });
        },
        [this] { streams_.Decrement(); });
  }

 private:
  using Stream = AckingServerStream<gourmet::v1::ConnectionBatch, gourmet::v1::BatchAck>;

  // Runs on a worker: analyse, hand the results to the sink, and complete
  // (which acks the agent) when the sink has stored them.
  void Process(gourmet::v1::ConnectionBatch& batch, Stream::DoneFn done) {
    gourmet::v1::IngestBatch out;
    // Delivered more than max_attempts times: every earlier delivery died
    // with its analyzer, so running the plugins again would only crash this
    // one. Log the connections as they are, with the reason.
    const uint32_t attempt = batch.attempt();
    const bool skip = config_.max_attempts > 0 && attempt > config_.max_attempts;
    std::string why;
    if (skip) {
      why = absl::StrCat("skipped after crashing analyzers ", attempt - 1,
                         " times (delivery attempt ", attempt, ", max_attempts ",
                         config_.max_attempts, "); no plugin ran");
      LogWarning("batch of %d connections, delivery attempt %d: %s", batch.connections_size(),
                 attempt, why);
      skipped_.Increment(batch.connections_size());
    }
    for (auto& conn : *batch.mutable_connections()) {
      gourmet::v1::Record* rec = out.add_records();
      if (skip) {
        Pipeline::PassThrough(&conn, rec, kHostErrorKey, why);
      } else {
        pipeline_->Analyze(&conn, rec);
      }
      rec->set_part(config_.part);
    }
    connections_.Increment(batch.connections_size());
    // One part per sink shard; the agent's batch is acknowledged once every
    // part is stored (with the first error, if any).
    std::vector<gourmet::v1::IngestBatch> parts(sinks_.size());
    if (sinks_.size() == 1) {
      parts[0] = std::move(out);
    } else {
      for (auto& rec : *out.mutable_records()) {
        const size_t shard = absl::HashOf(rec.conn().uid()) % sinks_.size();
        *parts[shard].add_records() = std::move(rec);
      }
    }
    struct Pending {
      Stream::DoneFn done;
      absl::Mutex mu;
      size_t left ABSL_GUARDED_BY(mu);
      absl::Status first ABSL_GUARDED_BY(mu);
    };
    auto pending = std::make_shared<Pending>();
    pending->done = std::move(done);
    size_t n = 0;
    for (const auto& part : parts) n += part.records_size() > 0;
    if (n == 0) {
      pending->done(absl::OkStatus());
      return;
    }
    {
      absl::MutexLock l(&pending->mu);
      pending->left = n;
    }
    auto part_done = [this, pending](const absl::Status& s) {
      if (s.ok()) {
        acked_.Increment();
      } else {
        sink_failures_.Increment();
      }
      absl::Status result;
      {
        absl::MutexLock l(&pending->mu);
        if (!s.ok() && pending->first.ok()) pending->first = s;
        if (--pending->left > 0) return;
        result = pending->first;
      }
      pending->done(result);
    };
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].records_size() == 0) continue;
      absl::Status st = sinks_[i]->Send(std::move(parts[i]), part_done);
      if (!st.ok()) part_done(st);
    }
  }

  AnalyzerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter& batches_;
  prometheus::Counter& connections_;
  prometheus::Counter& acked_;
  prometheus::Counter& sink_failures_;
  prometheus::Counter& skipped_;
  prometheus::Gauge& streams_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<SinkSender>> sinks_;  // shards, by uid hash
  StartedServer server_;
};

absl::StatusOr<std::unique_ptr<AnalyzerHost>> AnalyzerHost::Start(
    AnalyzerConfig config, std::shared_ptr<prometheus::Registry> registry) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(registry));
  absl::Status st = impl->Init();
  if (!st.ok()) return st;
  return std::unique_ptr<AnalyzerHost>(new AnalyzerHost(std::move(impl)));
}

AnalyzerHost::AnalyzerHost(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AnalyzerHost::~AnalyzerHost() { Shutdown(); }
int AnalyzerHost::port() const { return impl_->port(); }
void AnalyzerHost::Shutdown() {
  if (impl_) impl_->Shutdown();
}

}  // namespace gourmet::analyzer
