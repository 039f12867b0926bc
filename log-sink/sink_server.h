// The log sink as a library: the LogSink gRPC service over a DurableLog.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "log-sink/durable_log.h"
#include "prometheus/registry.h"
#include "services/config.h"

namespace gourmet::sink {

struct SinkConfig {
  std::string listen = "0.0.0.0:50052";
  std::string metrics_listen = "0.0.0.0:9103";
  std::string log_path = "gourmet.log";
  FsyncPolicy fsync = FsyncPolicy::kGroup;
  size_t max_batches_per_stream = 16;
};

std::vector<FlagSpec> SinkFlags();
absl::StatusOr<SinkConfig> SinkConfigFromYaml(ConfigReader* reader);

class SinkServer {
 public:
  static absl::StatusOr<std::unique_ptr<SinkServer>> Start(
      SinkConfig config, std::shared_ptr<prometheus::Registry> registry);
  ~SinkServer();
  int port() const;
  uint64_t records() const;
  void Shutdown();

 private:
  class Impl;
  explicit SinkServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gourmet::sink
