// analyzer-host: runs analyzer plugins over connections from capture agents
// and forwards the results to the log sink.
#include <cstdio>

#include "analyzer-host/analyzer_host.h"
#include "services/grpc_util.h"
#include "services/log.h"
#include "services/memory.h"
#include "services/metrics.h"
#include "services/signals.h"

int main(int argc, char** argv) {
  gourmet::TuneAllocatorForPayload();  // batches of payload come and go
  using namespace gourmet;
  SetLogProgramName("analyzer-host");
  const std::vector<FlagSpec> flags = analyzer::AnalyzerFlags();
  absl::StatusOr<ParsedArgs> args = ParseArgs(argc, argv, 1, flags);
  if (!args.ok()) {
    LogError("%s", args.status().message());
    return 2;
  }
  if (args->help) {
    std::fputs(Usage("analyzer-host [-c FILE] [options]",
                     "Runs analyzer plugins over connections from capture agents and sends results "
                     "to the log sink.",
                     flags)
                   .c_str(),
               stdout);
    return 0;
  }
  ConfigReader reader(args->config);
  absl::StatusOr<analyzer::AnalyzerConfig> config = analyzer::AnalyzerConfigFromYaml(&reader);
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
  auto host = analyzer::AnalyzerHost::Start(std::move(*config), registry);
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
