// The log sink as a library: the LogSink gRPC service — Ingest (merged by
// uid, acknowledged once durable), Query, Tail and Stats — over a
// DurableLog, with its metrics.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "log-sink/durable_log.h"
#include "log-sink/merger.h"
#include "prometheus/registry.h"
#include "services/config.h"
#include "services/tls.h"

namespace gourmet::sink {

struct SinkConfig {
  std::string listen = "0.0.0.0:50052";
  std::string metrics_listen = "0.0.0.0:9103";
  std::string log_path = "gourmet.log";
  FsyncPolicy fsync = FsyncPolicy::kGroup;
  absl::Duration fsync_interval = absl::Seconds(1);
  size_t max_batches_per_stream = 16;
  uint64_t rotate_bytes = 256ull << 20;
  absl::Duration rotate_age = absl::Hours(1);
  uint64_t retain_bytes = 0;
  absl::Duration retain_age = absl::ZeroDuration();
  MergeConfig merge;
  int max_queries = 16;                   // Query and Tail calls running at once
  uint64_t tail_buffer_bytes = 64 << 20;  // a Tail client further behind is cut off
  TlsConfig tls;                          // tls.*: TLS, mutual with tls.ca
  // Bearer token Query and Tail require (from auth.token_file). A client with
  // a verified certificate (mutual TLS) needs none.
  std::string auth_token;
};

std::vector<FlagSpec> SinkFlags();
absl::StatusOr<SinkConfig> SinkConfigFromYaml(ConfigReader* reader);

// Parses a size such as 4096, 64KiB, 256MiB, 10GB (KiB, MiB, GiB, TiB, and
// the bare K, M, G, T, are powers of 1024; KB, MB, GB, TB powers of 1000).
bool ParseSize(std::string_view text, uint64_t* out);

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
