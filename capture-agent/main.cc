// capture-agent: captures packets, rebuilds connections, streams them to the
// analyzer pool.
#include <cstdio>
#include <thread>

#include "capture-agent/agent.h"
#include "capture-agent/payload.h"
#include "services/grpc_util.h"
#include "services/log.h"
#include "services/memory.h"
#include "services/metrics.h"
#include "services/signals.h"

int main(int argc, char** argv) {
  using namespace gourmet;
  SetLogProgramName("capture-agent");
  TuneAllocatorForPayload();
  const std::vector<FlagSpec> flags = capture::AgentFlags();
  absl::StatusOr<ParsedArgs> args = ParseArgs(argc, argv, 1, flags);
  if (!args.ok()) {
    LogError("%s", args.status().message());
    return 2;
  }
  if (args->help) {
    std::fputs(
        Usage("capture-agent [-c FILE] (-r FILE | -i IFACE) [options]",
              "Captures packets, rebuilds connections and streams them to analyzer hosts.", flags)
            .c_str(),
        stdout);
    return 0;
  }
  if (!args->positional.empty()) {
    LogError("unexpected argument '%s' (see --help)", args->positional.front());
    return 2;
  }
  ConfigReader reader(args->config);
  absl::StatusOr<capture::AgentConfig> config = capture::AgentConfigFromYaml(args->config, &reader);
  absl::Status st = config.ok() ? reader.Finish() : config.status();
  if (!st.ok()) {
    LogError("%s", st.message());
    return 2;
  }
  const std::string metrics_listen = config->metrics_listen;
  BlockTerminationSignals();
  KeepGrpcInitialized();  // after: gRPC's threads must inherit the blocked signals
  auto registry = std::make_shared<prometheus::Registry>();
  capture::Agent agent(std::move(*config), registry);
  // Open the capture first: it may need privileges that are dropped after.
  st = agent.Open();
  if (!st.ok()) {
    LogError("%s", st.message());
    return 1;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!metrics_listen.empty()) {
    auto m = MetricsServer::Start(metrics_listen, registry);
    if (!m.ok()) {
      LogError("%s", m.status().message());
      return 1;
    }
    metrics = std::move(*m);
  }
  // SIGINT/SIGTERM: stop reading, then flush and deliver what was seen.
  std::thread signals([&agent] {
    const int sig = WaitForTerminationSignal();
    if (sig == 0) return;
    LogInfo("signal %d: stopping capture, delivering open connections", sig);
    agent.Stop();
  });
  signals.detach();
  st = agent.Run(nullptr);
  const capture::AgentProgress s = agent.Summary();
  const capture::PayloadPoolStats pool = capture::PayloadPool::Global().stats();
  LogInfo(
      "%d packets, %d bytes, %d connections in %.2fs (%.2fs of it waiting for the analyzers); "
      "payload buffers peaked at %d MiB",
      s.packets, s.bytes, s.connections, s.seconds, s.export_wait_seconds,
      pool.peak_in_use_bytes >> 20);
  if (!st.ok()) {
    LogError("%s", st.message());
    return 1;
  }
  return 0;
}
