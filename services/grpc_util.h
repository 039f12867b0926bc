// gRPC helpers shared by the services: servers with health and reflection,
// channels with Gourmet's limits, and the port file tests use to find
// ephemeral ports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace gourmet {

// Largest message a service accepts or sends: a batch with payload.
inline constexpr int kMaxMessageBytes = 256 << 20;

struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Starts a server on `listen` (HOST:PORT, port 0 = any free port) with the
// health service (reporting SERVING) and server reflection.
absl::StatusOr<StartedServer> StartGrpcServer(const std::string& listen,
                                              const std::vector<grpc::Service*>& services);

// An insecure channel to `target` with Gourmet's message limits.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target);

// Writes `port` to `path` atomically (write + rename), for tests and scripts.
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace gourmet
