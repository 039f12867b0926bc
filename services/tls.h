// TLS and mutual TLS between the services. Every service reads the same
// keys: tls.cert and tls.key (its own certificate), tls.ca (the CA that signs
// its peers), and tls.server_name (the name a client expects in the server's
// certificate, when it connects by address). A server with tls.ca requires
// and verifies client certificates (mutual TLS).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "services/config.h"

namespace gourmet {

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  std::string server_name;
  bool enabled() const { return !cert_file.empty() || !ca_file.empty(); }
};

// Reads `prefix`.cert/.key/.ca/.server_name.
TlsConfig TlsConfigFromYaml(ConfigReader* reader, absl::string_view prefix = "tls");

// Loads and checks the files (readable, PEM, key matches certificate), so a
// wrong file is a clear error at start, not a failed handshake later.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsConfig& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsConfig& tls);

}  // namespace gourmet
