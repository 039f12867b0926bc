// The analyzer host as a library: a gRPC Analyzer service that runs the
// plugin pipeline on a worker pool over incoming batches and forwards the
// results to the log sink. A batch is acknowledged to the agent only after the
// sink acknowledged its results.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analyzer-host/pipeline.h"
#include "prometheus/registry.h"
#include "services/config.h"
#include "services/tls.h"

namespace gourmet::analyzer {

struct AnalyzerConfig {
  std::string listen = "0.0.0.0:50051";
  std::string sink = "127.0.0.1:50052";
  // Several sinks: each connection goes to the one its uid hashes to, so
  // each sink holds a fixed share of the connections ("sink" is then ignored).
  std::vector<std::string> sinks;
  TlsConfig tls;  // server side for agents, client side towards the sinks
  // Agents reconnect this often, so that analyzers added since get streams.
  absl::Duration max_connection_age = absl::Minutes(5);
  std::string metrics_listen = "0.0.0.0:9102";
  std::string part = "analysis";  // this pool's name in the merged record
  int workers = 2;
  size_t max_result_bytes = 1 << 20;
  size_t max_batches_per_stream = 8;  // read-ahead per agent stream
  // A batch delivered more often than this (ConnectionBatch.attempt) is
  // written without running plugins: its connections keep crashing analyzer
  // hosts. 0 = never.
  uint32_t max_attempts = 3;
  std::vector<PluginSpec> plugins;
};

std::vector<FlagSpec> AnalyzerFlags();
absl::StatusOr<AnalyzerConfig> AnalyzerConfigFromYaml(ConfigReader* reader);

class AnalyzerHost {
 public:
  // Loads the plugins and starts serving. Fails with a clear message if a
  // plugin cannot be loaded or the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<AnalyzerHost>> Start(
      AnalyzerConfig config, std::shared_ptr<prometheus::Registry> registry);
  ~AnalyzerHost();

  int port() const;
  // Stops accepting work, finishes what is in flight, then returns.
  void Shutdown();

 private:
  class Impl;
  explicit AnalyzerHost(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gourmet::analyzer
