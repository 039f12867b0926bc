// The capture agent as a library: reads packets from a source, tracks flows
// and exports finished connections to the analyzer pool. main.cc and the
// one-machine launcher are thin layers over it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "capture-agent/defrag.h"
#include "capture-agent/exporter.h"
#include "capture-agent/flow_table.h"
#include "capture-agent/live_pcap_source.h"
#include "capture-agent/packet_source.h"
#include "capture-agent/worker.h"
#include "prometheus/registry.h"
#include "services/config.h"

namespace gourmet::capture {

struct AgentConfig {
  std::string read_file;            // offline source
  std::string interface;            // live source
  std::string source = "afpacket";  // live: "afpacket" or "pcap"
  std::string bpf;
  std::string user;  // drop to this user once capture is open
  std::string metrics_listen;
  absl::Duration stats_interval = absl::Minutes(1);  // periodic stats line (live)
  LiveConfig live;
  int workers = 1;  // flow-table threads; packets are dispatched by a symmetric address hash
  FlowTableConfig flows;
  DefragConfig defrag;
  ExporterConfig exporter;
};

// Flags of the capture agent (also used by `gourmet run`).
std::vector<FlagSpec> AgentFlags();
// Reads and validates the agent's config (keys as documented in the README).
absl::StatusOr<AgentConfig> AgentConfigFromYaml(const YAML::Node& root, ConfigReader* reader);

struct AgentProgress {
  double fraction = 0;  // share of the input read, 0..1 (files only)
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t connections = 0;  // exported so far
  uint64_t active_flows = 0;
  double seconds = 0;
  double export_wait_seconds = 0;  // capture waited for the analyzer pool (backpressure)
};

class Agent {
 public:
  Agent(AgentConfig config, std::shared_ptr<prometheus::Registry> registry);
  ~Agent();

  // Opens the capture (files and interfaces alike) and, with `user` set,
  // drops privileges. Errors say what is missing: the file, the interface,
  // CAP_NET_RAW.
  absl::Status Open();
  // Runs to the end of the input (or until Stop() for live capture),
  // delivers every connection and waits for the acknowledgements.
  // `progress` (optional) is called about 5 times a second.
  absl::Status Run(const std::function<void(const AgentProgress&)>& progress);
  // Asks Run() to stop reading; what was seen is still flushed and delivered.
  void Stop() { stop_ = true; }

  AgentProgress Summary() const { return summary_; }

 private:
  struct Metrics;
  class Publisher;
  struct Shared;
  void WorkerLoop(PacketSource& source, Worker& worker, Publisher& pub, Shared& shared);

  AgentConfig config_;
  std::vector<std::unique_ptr<PacketSource>> sources_;  // one, or one per worker (AF_PACKET)
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Metrics> metrics_;
  std::atomic<bool> stop_{false};
  AgentProgress summary_;
};

}  // namespace gourmet::capture
