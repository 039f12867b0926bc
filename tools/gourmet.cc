// gourmet: the one-machine launcher. `gourmet run` starts the log sink, an
// analyzer host and a capture agent in this process, talking real gRPC over
// loopback, and runs a pcap file (or interface) through them.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "analyzer-host/analyzer_host.h"
#include "capture-agent/agent.h"
#include "log-sink/sink_server.h"
#include "services/grpc_util.h"
#include "services/log.h"
#include "services/memory.h"
#include "services/signals.h"

namespace gourmet {
namespace {

std::vector<FlagSpec> RunFlags() {
  return {
      {"read", 'r', "agent.read_file", "FILE", "read packets from a pcap or pcapng file"},
      {"interface", 'i', "agent.interface", "IFACE", "capture live on an interface"},
      {"filter", 'f', "agent.bpf", "EXPR", "BPF filter expression"},
      {"source", 0, "agent.source", "KIND", "live capture with 'afpacket' (default) or 'pcap'"},
      {"output", 'o', "sink.log_path", "FILE", "the JSON-lines log to write (default gourmet.log)"},
      {"plugins", 'p', "analyzer.plugins", "NAMES",
       "comma-separated plugins (default: every plugin in the plugin dir)"},
      {"plugin-dir", 0, "analyzer.plugin_dir", "DIR", "where plugins are found"},
      {"workers", 'w', "analyzer.workers", "N", "analysis threads"},
      {"capture-workers", 0, "agent.workers", "N", "capture threads, each with its own flow table"},
      {"seed", 0, "agent.uid_seed", "N", "seed for connection uids"},
      {"sensor", 0, "agent.sensor", "NAME", "sensor name in each record"},
      {"quiet", 'q', "quiet", "", "no progress line"},
      {"verbose", 'v', "verbose", "", "log what each service does"},
  };
}

std::string DefaultPluginDir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto build_dir = exe.parent_path().parent_path() / "plugins";  // build/bin/.. /plugins
    if (std::filesystem::is_directory(build_dir)) return build_dir.string();
    const auto installed = exe.parent_path().parent_path() / "lib" / "gourmet" / "plugins";
    if (std::filesystem::is_directory(installed)) return installed.string();
  }
  return "/usr/lib/gourmet/plugins";
}

std::string AllPlugins(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".so") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return absl::StrJoin(names, ",");
}

std::string Human(double v) {
  if (v >= 1e9) return absl::StrFormat("%.2fG", v / 1e9);
  if (v >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e3) return absl::StrFormat("%.1fk", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

int Run(int argc, char** argv) {
  const std::vector<FlagSpec> flags = RunFlags();
  absl::StatusOr<ParsedArgs> args = ParseArgs(argc, argv, 2, flags);
  if (!args.ok()) {
    LogError("%s", args.status().message());
    return 2;
  }
  if (args->help) {
    std::fputs(
        Usage("gourmet run [-c FILE] (-r FILE | -i IFACE) [-o LOG] [options]",
              "Runs the whole pipeline on this machine: capture agent, analyzer host and log sink\n"
              "in one process, talking gRPC over loopback. The config file has three sections,\n"
              "agent:, analyzer: and sink:, with the keys of each service's own config.",
              flags)
            .c_str(),
        stdout);
    return 0;
  }
  if (!args->positional.empty()) {
    LogError("unexpected argument '%s' (see gourmet run --help)", args->positional.front());
    return 2;
  }
  YAML::Node root = args->config;
  for (const auto& kv : root) {
    const std::string k = kv.first.as<std::string>();
    if (k != "agent" && k != "analyzer" && k != "sink" && k != "quiet" && k != "verbose") {
      LogError("unknown config key '%s' (expected agent, analyzer, sink)", k);
      return 2;
    }
  }
  auto section = [&root](const char* name) {
    YAML::Node n = root[name];
    return n && n.IsMap() ? YAML::Clone(n) : YAML::Node(YAML::NodeType::Map);
  };
  YAML::Node agent_yaml = section("agent"), analyzer_yaml = section("analyzer"),
             sink_yaml = section("sink");
  // One machine: everything on loopback, ephemeral ports, no metrics unless asked.
  if (!sink_yaml["listen"]) sink_yaml["listen"] = "127.0.0.1:0";
  if (!sink_yaml["metrics_listen"]) sink_yaml["metrics_listen"] = "";
  if (!analyzer_yaml["listen"]) analyzer_yaml["listen"] = "127.0.0.1:0";
  if (!analyzer_yaml["metrics_listen"]) analyzer_yaml["metrics_listen"] = "";
  if (!agent_yaml["metrics_listen"]) agent_yaml["metrics_listen"] = "";
  if (!analyzer_yaml["plugin_dir"]) analyzer_yaml["plugin_dir"] = DefaultPluginDir();
  if (!analyzer_yaml["plugins"])
    analyzer_yaml["plugins"] = AllPlugins(analyzer_yaml["plugin_dir"].as<std::string>());
  const bool quiet = root["quiet"] && root["quiet"].as<std::string>() == "true";
  const bool verbose = root["verbose"] && root["verbose"].as<std::string>() == "true";
  if (!verbose) SetLogLevel(LogLevel::kWarning);

  ConfigReader sink_reader(sink_yaml);
  auto sink_config = sink::SinkConfigFromYaml(&sink_reader);
  absl::Status st = sink_config.ok() ? sink_reader.Finish() : sink_config.status();
  if (!st.ok()) {
    LogError("sink: %s", st.message());
    return 2;
  }
  ConfigReader analyzer_reader(analyzer_yaml);
  auto analyzer_config = analyzer::AnalyzerConfigFromYaml(&analyzer_reader);
  analyzer_reader.String("port_file", "");
  st = analyzer_config.ok() ? analyzer_reader.Finish() : analyzer_config.status();
  if (!st.ok()) {
    LogError("analyzer: %s", st.message());
    return 2;
  }
  ConfigReader agent_reader(agent_yaml);
  auto agent_config = capture::AgentConfigFromYaml(agent_yaml, &agent_reader);
  agent_reader.String("analyzer", "");
  st = agent_config.ok() ? agent_reader.Finish() : agent_config.status();
  if (!st.ok()) {
    LogError("agent: %s", st.message());
    return 2;
  }

  BlockTerminationSignals();
  KeepGrpcInitialized();  // after: gRPC's threads must inherit the blocked signals
  auto registry = std::make_shared<prometheus::Registry>();
  const std::string log_path = sink_config->log_path;
  auto sink = sink::SinkServer::Start(std::move(*sink_config), registry);
  if (!sink.ok()) {
    LogError("sink: %s", sink.status().message());
    return 1;
  }
  analyzer_config->sink = absl::StrCat("127.0.0.1:", (*sink)->port());
  analyzer_config->sinks = {analyzer_config->sink};
  auto host = analyzer::AnalyzerHost::Start(std::move(*analyzer_config), registry);
  if (!host.ok()) {
    LogError("analyzer: %s", host.status().message());
    return 1;
  }
  agent_config->exporter.analyzer = absl::StrCat("127.0.0.1:", (*host)->port());
  capture::Agent agent(std::move(*agent_config), registry);
  st = agent.Open();
  if (!st.ok()) {
    LogError("%s", st.message());
    return 1;
  }
  std::thread signals([&agent] {
    if (WaitForTerminationSignal() != 0) agent.Stop();
  });
  signals.detach();

  const bool tty = !quiet && isatty(STDERR_FILENO);
  uint64_t last_packets = 0;
  double last_seconds = 0;
  st = agent.Run([&](const capture::AgentProgress& p) {
    if (!tty) return;
    const double dt = p.seconds - last_seconds;
    const double rate = dt > 0 ? (p.packets - last_packets) / dt : 0;
    last_packets = p.packets;
    last_seconds = p.seconds;
    std::fprintf(stderr,
                 "\r\033[K%5.1f%% read  %s packets  %s packets/s  %s connections  %s active",
                 p.fraction * 100, Human(p.packets).c_str(), Human(rate).c_str(),
                 Human(p.connections).c_str(), Human(p.active_flows).c_str());
  });
  if (tty) std::fprintf(stderr, "\r\033[K");
  const capture::AgentProgress s = agent.Summary();
  (*host)->Shutdown();
  const uint64_t records = (*sink)->records();
  (*sink)->Shutdown();
  std::printf("gourmet: %llu packets, %llu connections in %.2f s; %s now holds %llu records\n",
              static_cast<unsigned long long>(s.packets),
              static_cast<unsigned long long>(s.connections), s.seconds, log_path.c_str(),
              static_cast<unsigned long long>(records));
  if (!st.ok()) {
    LogError("%s", st.message());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace gourmet

int main(int argc, char** argv) {
  gourmet::SetLogProgramName("gourmet");
  gourmet::TuneAllocatorForPayload();
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "run") return gourmet::Run(argc, argv);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::puts(
        "usage: gourmet run [-c FILE] (-r FILE | -i IFACE) [-o LOG] [options]\n\n"
        "Runs capture agent, analyzer host and log sink on this machine. See gourmet run --help.");
    return 0;
  }
  std::fprintf(stderr, "gourmet: unknown command '%s'; try: gourmet run --help\n", cmd.c_str());
  return 2;
}
