// log-sink: writes one merged JSON line per connection, durably, and
// answers questions about them over gRPC.
#include <cstdio>

#include "log-sink/sink_server.h"
#include "services/grpc_util.h"
#include "services/log.h"
#include "services/metrics.h"
#include "services/signals.h"

int main(int argc, char** argv) {
  using namespace gourmet;
  SetLogProgramName("log-sink");
  const std::vector<FlagSpec> flags = sink::SinkFlags();
  absl::StatusOr<ParsedArgs> args = ParseArgs(argc, argv, 1, flags);
  if (!args.ok()) {
    LogError("%s", args.status().message());
    return 2;
  }
  if (args->help) {
    std::fputs(
        Usage("log-sink [-c FILE] [options]",
              "Merges the parts of each connection into one JSON line, writes it durably to\n"
              "rotated segment files with an index each, and serves the LogSink gRPC API:\n"
              "Ingest, Query, Tail and Stats (gourmetctl is its command-line client).",
              flags)
            .c_str(),
        stdout);
    return 0;
  }
  ConfigReader reader(args->config);
  absl::StatusOr<sink::SinkConfig> config = sink::SinkConfigFromYaml(&reader);
  const std::string port_file = reader.String("port_file", "");
  absl::Status st = config.ok() ? reader.Finish() : config.status();
  if (!st.ok()) {
    LogError("%s", st.message());
    return 2;
  }
  BlockTerminationSignals();
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsServer> metrics;
  if (!config->metrics_listen.empty()) {
    auto m = MetricsServer::Start(config->metrics_listen, registry);
    if (!m.ok()) {
      LogError("%s", m.status().message());
      return 1;
    }
    metrics = std::move(*m);
  }
  auto host = sink::SinkServer::Start(std::move(*config), registry);
  if (!host.ok()) {
    LogError("%s", host.status().message());
    return 1;
  }
  if (!port_file.empty()) {
    st = WritePortFile(port_file, (*host)->port());
    if (!st.ok()) {
      LogError("%s", st.message());
      return 1;
    }
  }
  const int sig = WaitForTerminationSignal();
  LogInfo("signal %d: shutting down", sig);
  (*host)->Shutdown();
  return 0;
}
