// gRPC helpers shared by the services: servers with health and reflection,
// channels with Gourmet's limits, and the port file tests use to find
// ephemeral ports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace gourmet {

// Largest message a service accepts or sends: a batch with payload.
inline constexpr int kMaxMessageBytes = 256 << 20;
// Largest HTTP/2 frame a server accepts (the protocol's maximum).
inline constexpr int kMaxHttp2FrameBytes = (1 << 24) - 1;

struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Starts a server on `listen` (HOST:PORT, port 0 = any free port) with the
// health service (reporting SERVING) and server reflection. `creds` null
// means plaintext. A finite `max_connection_age` makes clients reconnect that
// often, so that load balancing notices servers added since.
absl::StatusOr<StartedServer> StartGrpcServer(
    const std::string& listen, const std::vector<grpc::Service*>& services,
    std::shared_ptr<grpc::ServerCredentials> creds = nullptr,
    absl::Duration max_connection_age = absl::InfiniteDuration());

// A channel to `target` with Gourmet's message limits. `creds` null means
// plaintext; `server_name` overrides the name checked in the server's
// certificate; `lb_policy` ("round_robin") spreads calls over every address
// the target resolves to (a headless Service, or "ipv4:a:p,b:p").
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& target, std::shared_ptr<grpc::ChannelCredentials> creds = nullptr,
    const std::string& server_name = "", const std::string& lb_policy = "");

// Initialises gRPC for the life of the process. Otherwise destroying the
// last channel runs grpc_shutdown(), which waits up to 10 s for connections
// still closing: a capture agent finishing a file sometimes paused that long.
// Call it after BlockTerminationSignals(): the threads gRPC starts inherit
// the signal mask.
void KeepGrpcInitialized();

// Writes `port` to `path` atomically (write + rename), for tests and scripts.
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace gourmet
