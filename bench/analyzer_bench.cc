// Connections per second through the analyzer host: batches in over gRPC
// (a ReliableSender, as the capture agent sends them), the plugin pipeline on
// the host's worker pool, results out over gRPC to a sink that acknowledges
// at once, and the ack back to the sender. With the `bytes` plugin and with
// an empty pipeline, for several batch sizes; plus the pipeline alone.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "analyzer-host/analyzer_host.h"
#include "gourmet/v1/analyzer.grpc.pb.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "services/acking_stream.h"
#include "services/grpc_util.h"
#include "services/reliable_sender.h"

namespace {

using namespace gourmet;  // NOLINT
using Sender = ReliableSender<v1::Analyzer, v1::ConnectionBatch, v1::BatchAck>;

// A LogSink that acknowledges every batch without writing it, so the figures
// are the host's.
class AckingSink final : public v1::LogSink::CallbackService {
 public:
  grpc::ServerBidiReactor<v1::IngestBatch, v1::IngestAck>* Ingest(
      grpc::CallbackServerContext*) override {
    return new AckingServerStream<v1::IngestBatch, v1::IngestAck>(
        64, [](std::shared_ptr<v1::IngestBatch>, auto done) { done(absl::OkStatus()); });
  }
};

// A typical small HTTP exchange: two requests, two responses.
v1::Connection Conn(int i) {
  v1::Connection c;
  c.set_uid("CBench" + std::to_string(i));
  c.set_ip_proto(6);
  c.mutable_orig()->set_addr(std::string("\x0a\x00\x00\x01", 4));
  c.mutable_orig()->set_port(40000 + i % 20000);
  c.mutable_resp()->set_addr(std::string("\x0a\x00\x00\x02", 4));
  c.mutable_resp()->set_port(80);
  c.set_ts_us(1796398424000000 + i);
  c.set_last_ts_us(1796398424000500 + i);
  c.set_conn_state("SF");
  c.set_history("ShADadFf");
  for (int k = 0; k < 2; ++k) {
    auto* q = c.add_chunks();
    q->set_dir(v1::Chunk::ORIG);
    q->set_data(std::string(200, 'q'));
    auto* r = c.add_chunks();
    r->set_dir(v1::Chunk::RESP);
    r->set_data(std::string(1400, 'r'));
  }
  c.mutable_orig_stats()->set_pkts(6);
  c.mutable_orig_stats()->set_bytes(400);
  c.mutable_resp_stats()->set_pkts(6);
  c.mutable_resp_stats()->set_bytes(2800);
  return c;
}

std::vector<analyzer::PluginSpec> Plugins(bool bytes) {
  if (!bytes) return {};
  analyzer::PluginSpec s;
  s.name = s.key = "bytes";
  s.path = GOURMET_PLUGIN_DIR "/bytes.so";
  return {s};
}

// A sink, a host and a sender, started once per plugin set for the process.
struct Env {
  explicit Env(bool bytes) {
    auto s = StartGrpcServer("127.0.0.1:0", {&sink});
    if (!s.ok()) std::abort();
    sink_server = std::move(*s);
    analyzer::AnalyzerConfig c;
    c.listen = "127.0.0.1:0";
    c.sink = "127.0.0.1:" + std::to_string(sink_server.port);
    c.metrics_listen = "";
    c.plugins = Plugins(bytes);
    auto h = analyzer::AnalyzerHost::Start(c, std::make_shared<prometheus::Registry>());
    if (!h.ok()) {
      std::fprintf(stderr, "%s\n", std::string(h.status().message()).c_str());
      std::abort();
    }
    host = std::move(*h);
    ReliableSenderOptions o;  // the capture agent's defaults
    o.target = "127.0.0.1:" + std::to_string(host->port());
    o.max_in_flight = 4;
    o.max_queued = 8;
    sender =
        std::make_unique<Sender>(o, [](v1::Analyzer::Stub* stub, grpc::ClientContext* ctx,
                                       Sender::Reactor* r) { stub->async()->Analyze(ctx, r); });
  }
  AckingSink sink;
  StartedServer sink_server;
  std::unique_ptr<analyzer::AnalyzerHost> host;
  std::unique_ptr<Sender> sender;
};

Env& GetEnv(bool bytes) {
  static Env* envs[2] = {nullptr, nullptr};
  if (!envs[bytes]) envs[bytes] = new Env(bytes);  // lives until exit
  return *envs[bytes];
}

constexpr int kConnsPerIteration = 4096;

void BM_HostConnections(benchmark::State& state) {
  const bool bytes = state.range(0) != 0;
  const int batch_size = static_cast<int>(state.range(1));
  Env& env = GetEnv(bytes);
  const v1::Connection conn = Conn(0);
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::ConnectionBatch> batches(kConnsPerIteration / batch_size);
    for (auto& b : batches) {
      b.set_attempt(1);
      for (int i = 0; i < batch_size; ++i) *b.add_connections() = conn;
    }
    state.ResumeTiming();
    for (auto& b : batches) {
      if (!env.sender->Send(std::move(b), nullptr).ok()) state.SkipWithError("send failed");
    }
    if (!env.sender->Flush().ok()) state.SkipWithError("flush failed");
  }
  state.SetItemsProcessed(state.iterations() * kConnsPerIteration);
}
BENCHMARK(BM_HostConnections)
    ->ArgNames({"bytes", "batch"})
    ->ArgsProduct({{0, 1}, {1, 16, 64, 256, 1024}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The pipeline alone, one connection at a time, on this thread.
void BM_PipelineOnly(benchmark::State& state) {
  prometheus::Registry registry;
  auto p = analyzer::Pipeline::Create(Plugins(state.range(0) != 0), registry, 1 << 20);
  if (!p.ok()) std::abort();
  const v1::Connection conn = Conn(0);
  for (auto _ : state) {
    v1::Connection c = conn;
    v1::Record rec;
    (*p)->Analyze(&c, &rec);
    benchmark::DoNotOptimize(rec);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PipelineOnly)->ArgName("bytes")->Arg(0)->Arg(1);

}  // namespace
