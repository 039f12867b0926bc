#include "capture-agent/agent.h"

#include <unistd.h>

#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "capture-agent/afpacket_source.h"
#include "capture-agent/decoder.h"
#include "capture-agent/packet_ring.h"
#include "capture-agent/pcap_source.h"
#include "capture-agent/privileges.h"
#include "capture-agent/worker.h"
#include "services/log.h"
#include "services/metrics.h"
#include "services/tls.h"

namespace gourmet::capture {

std::vector<FlagSpec> AgentFlags() {
  return {
      {"read", 'r', "read_file", "FILE", "read packets from a pcap or pcapng file"},
      {"interface", 'i', "interface", "IFACE", "capture live on an interface"},
      {"filter", 'f', "bpf", "EXPR", "BPF filter expression, e.g. 'tcp port 80'"},
      {"analyzer", 'a', "analyzer", "HOST:PORT", "analyzer pool to send connections to"},
      {"sensor", 0, "sensor", "NAME", "sensor name written in each record (default: host name)"},
      {"metrics", 0, "metrics_listen", "HOST:PORT", "serve Prometheus /metrics here ('' = off)"},
      {"connect-timeout", 0, "connect_timeout", "DURATION",
       "give up when the analyzer is unreachable this long"},
      {"ack-timeout", 0, "ack_timeout", "DURATION",
       "a batch not acknowledged this long is resent on a new stream"},
      {"seed", 0, "uid_seed", "N", "seed for connection uids (same pcap + seed = same uids)"},
      {"workers", 'w', "workers", "N", "worker threads, each with its own flow table"},
      {"source", 0, "source", "KIND",
       "live capture with 'afpacket' (TPACKET_V3 ring, default) or 'pcap' (libpcap)"},
      {"promiscuous", 0, "live.promiscuous", "", "put the interface in promiscuous mode"},
      {"user", 'u', "user", "NAME", "drop to this user once the capture is open"},
      {"stats-interval", 0, "stats_interval", "DURATION",
       "how often live capture logs its statistics"},
      {"payload-depth", 0, "flows.payload_depth", "BYTES", "payload bytes kept per direction"},
      {"max-flows", 0, "flows.max_flows", "N",
       "flow table cap; the oldest flow is evicted beyond it"},
  };
}

absl::StatusOr<AgentConfig> AgentConfigFromYaml(const YAML::Node& root, ConfigReader* r) {
  AgentConfig c;
  c.read_file = r->String("read_file", "");
  c.interface = r->String("interface", "");
  c.source = r->String("source", "afpacket");
  if (c.source != "afpacket" && c.source != "pcap")
    r->Fail("source", "must be 'afpacket' or 'pcap'");
  c.user = r->String("user", "");
  c.stats_interval = r->Duration("stats_interval", absl::Minutes(1));
  c.live.snaplen = r->Int("live.snaplen", 262144, 64, 262144);
  c.live.promiscuous = r->Bool("live.promiscuous", false);
  c.live.buffer_mib = r->Int("live.buffer_mib", 64, 1, 4096);
  c.live.immediate = r->Bool("live.immediate", true);
  c.live.block_size = r->Int("live.block_size", 1 << 20, 4096, 1 << 28);
  c.live.block_count = r->Int("live.block_count", 64, 2, 65536);
  c.live.block_timeout_ms = r->Int("live.block_timeout_ms", 10, 1, 10000);
  if ((c.live.block_size & (c.live.block_size - 1)) != 0)
    r->Fail("live.block_size", "must be a power of two");
  c.exporter.max_delay = r->Duration("batch.max_delay", absl::Seconds(1));
  c.exporter.streams = r->Int("analyzer_streams", 4, 1, 64);
  const std::string when_full = r->String("batch.when_full", "block");
  if (when_full == "drop_oldest") {
    c.exporter.drop_oldest_when_full = true;
  } else if (when_full != "block") {
    r->Fail("batch.when_full", "must be 'block' or 'drop_oldest'");
  }
  const TlsConfig tls = TlsConfigFromYaml(r);
  if (tls.enabled()) {
    auto creds = MakeChannelCredentials(tls);
    if (!creds.ok()) {
      r->Fail("tls", creds.status().message());
    } else {
      c.exporter.creds = *creds;
      c.exporter.server_name = tls.server_name;
    }
  }
  c.bpf = r->String("bpf", "");
  c.live.bpf = c.bpf;
  c.metrics_listen = r->String("metrics_listen", "0.0.0.0:9101");
  char host[256] = "unknown";
  gethostname(host, sizeof(host) - 1);
  c.flows.sensor = r->String("sensor", host);
  c.exporter.analyzer = r->String("analyzer", "127.0.0.1:50051");
  c.exporter.give_up_after = r->Duration("connect_timeout", absl::Seconds(30));
  c.exporter.ack_timeout = r->Duration("ack_timeout", absl::Seconds(120));
  c.exporter.batch_connections = r->Int("batch.connections", 256, 1, 100000);
  c.exporter.batch_bytes = r->Int("batch.bytes", 1 << 20, 1024, 128 << 20);
  c.exporter.max_in_flight = r->Int("batch.max_in_flight", 4, 1, 1024);
  c.exporter.max_queued = r->Int("batch.max_queued", 8, 1, 100000);
  const int64_t seed = r->Int("uid_seed", -1, -1, INT64_MAX);
  c.flows.uid_seed =
      seed >= 0 ? static_cast<uint64_t>(seed) : std::random_device{}() * 0x100000001ULL;
  c.flows.community_id_seed = r->Int("community_id_seed", 0, 0, 65535);
  c.flows.tcp_timeout = r->Duration("flows.tcp_timeout", absl::Minutes(5));
  c.flows.udp_timeout = r->Duration("flows.udp_timeout", absl::Minutes(1));
  c.flows.icmp_timeout = r->Duration("flows.icmp_timeout", absl::Minutes(1));
  c.flows.other_timeout = r->Duration("flows.other_timeout", absl::Minutes(1));
  c.flows.active_timeout = r->Duration("flows.active_timeout", absl::Hours(1));
  c.flows.max_flows = r->Int("flows.max_flows", 1 << 20, 16, int64_t{1} << 32);
  c.flows.payload_depth = r->Int("flows.payload_depth", 1 << 20, 0, int64_t{1} << 30);
  c.flows.max_ooo_bytes = r->Int("flows.max_ooo_bytes", 1 << 20, 0, int64_t{1} << 30);
  c.workers = r->Int("workers", 1, 1, 64);
  c.flows.check_checksums = r->Bool("flows.check_checksums", false);
  c.defrag.max_bytes = r->Int("defrag.max_bytes", 32 << 20, 0, int64_t{1} << 34);
  c.defrag.timeout = r->Duration("defrag.timeout", absl::Seconds(30));
  c.live.interface = c.interface;
  if (c.read_file.empty() && c.interface.empty()) {
    r->Fail("read_file", "no input: give a pcap file (-r FILE) or an interface (-i IFACE)");
  } else if (!c.read_file.empty() && !c.interface.empty()) {
    r->Fail("interface", "give either a file (-r) or an interface (-i), not both");
  }
  if (c.exporter.analyzer.empty()) r->Fail("analyzer", "must not be empty");
  return c;
}

struct Agent::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : registry(r),
        packets(NewCounter(r, "gourmet_agent_packets_total", "Packets read from the source")),
        bytes(
            NewCounter(r, "gourmet_agent_bytes_total", "Bytes read from the source (wire length)")),
        non_ip(NewCounter(r, "gourmet_agent_non_ip_packets_total",
                          "Packets that carry no IP (ARP, LLDP, ...)")),
        connections(NewCounter(r, "gourmet_agent_connections_total", "Connections exported")),
        connections_acked(NewCounter(r, "gourmet_agent_connections_acked_total",
                                     "Connections acknowledged end to end")),
        connections_failed(NewCounter(r, "gourmet_agent_connections_failed_total",
                                      "Connections that could not be delivered")),
        batches(NewCounter(r, "gourmet_agent_batches_total", "Batches sent to the analyzer pool")),
        evicted(NewCounter(r, "gourmet_agent_flows_evicted_total",
                           "Flows evicted because the flow table was full")),
        truncated(NewCounter(r, "gourmet_agent_payload_truncated_bytes_total",
                             "Payload bytes beyond the payload depth")),
        ooo_dropped(NewCounter(r, "gourmet_agent_ooo_dropped_bytes_total",
                               "Out-of-order bytes beyond the reassembly buffer cap")),
        fragments(NewCounter(r, "gourmet_agent_fragments_total", "IP fragments seen")),
        blocked_sends(NewCounter(r, "gourmet_agent_export_waits_total",
                                 "Times capture waited for room in a full send buffer")),
        blocked_seconds(NewCounter(r, "gourmet_agent_export_wait_seconds_total",
                                   "Time capture spent waiting for room in a full send buffer")),
        dropped_batches(
            NewCounter(r, "gourmet_agent_export_dropped_batches_total",
                       "Batches dropped from a full send buffer (batch.when_full: drop_oldest)")),
        kernel_received(NewCounter(r, "gourmet_agent_kernel_received_total",
                                   "Packets the kernel delivered (live capture)")),
        kernel_dropped(NewCounter(r, "gourmet_agent_kernel_dropped_total",
                                  "Packets the kernel dropped for lack of buffer (live capture)")),
        capture_loss(NewGauge(r, "gourmet_agent_capture_loss_ratio",
                              "Share of TCP bytes never seen, over recently exported connections "
                              "(gap-based estimate)")),
        reassembled(NewCounter(r, "gourmet_agent_datagrams_reassembled_total",
                               "IP datagrams rebuilt from fragments")),
        frag_dropped(NewCounter(r, "gourmet_agent_fragments_dropped_datagrams_total",
                                "Incomplete datagrams dropped (timeout or memory cap)")),
        active_family(prometheus::BuildGauge()
                          .Name("gourmet_agent_active_flows")
                          .Help("Flows being tracked, per worker")
                          .Register(r)),
        pending_batches(
            NewGauge(r, "gourmet_agent_pending_batches", "Batches not yet acknowledged")),
        payload_bytes(
            NewGauge(r, "gourmet_agent_payload_bytes",
                     "Payload buffer memory held by open and unacknowledged connections")),
        payload_free_bytes(NewGauge(r, "gourmet_agent_payload_free_bytes",
                                    "Payload buffer memory kept warm for reuse")),
        weird_family(prometheus::BuildCounter()
                         .Name("gourmet_agent_weirds_total")
                         .Help("Anomalies seen, by name")
                         .Register(r)) {}

  prometheus::Counter& Weird(const char* name) {
    auto it = weirds.find(name);
    if (it == weirds.end()) it = weirds.emplace(name, &weird_family.Add({{"name", name}})).first;
    return *it->second;
  }

  prometheus::Registry& registry;
  prometheus::Counter& packets;
  prometheus::Counter& bytes;
  prometheus::Counter& non_ip;
  prometheus::Counter& connections;
  prometheus::Counter& connections_acked;
  prometheus::Counter& connections_failed;
  prometheus::Counter& batches;
  prometheus::Counter& evicted;
  prometheus::Counter& truncated;
  prometheus::Counter& ooo_dropped;
  prometheus::Counter& fragments;
  prometheus::Counter& blocked_sends;
  prometheus::Counter& blocked_seconds;
  prometheus::Counter& dropped_batches;
  prometheus::Counter& kernel_received;
  prometheus::Counter& kernel_dropped;
  prometheus::Gauge& capture_loss;
  prometheus::Counter& reassembled;
  prometheus::Counter& frag_dropped;
  prometheus::Family<prometheus::Gauge>& active_family;
  prometheus::Gauge& pending_batches;
  prometheus::Gauge& payload_bytes;
  prometheus::Gauge& payload_free_bytes;
  prometheus::Family<prometheus::Counter>& weird_family;
  absl::flat_hash_map<const char*, prometheus::Counter*> weirds;
};

Agent::Agent(AgentConfig config, std::shared_ptr<prometheus::Registry> registry)
    : config_(std::move(config)),
      registry_(std::move(registry)),
      metrics_(std::make_unique<Metrics>(*registry_)) {}

Agent::~Agent() = default;

namespace {

constexpr uint64_t kPayloadReserveBytes = 64 << 20;
constexpr absl::Duration kPayloadTrimInterval = absl::Seconds(10);

// Symmetric hash of the outer addresses: both directions of a flow, and all
// fragments of a datagram, go to the same worker.
uint32_t DispatchHash(const DecodedPacket& p) {
  const int alen = p.ip_version == 4 ? 4 : 16;
  uint64_t a = 0, b = 0;
  for (int i = 0; i < alen; ++i) {
    a = a * 131 + p.src[i];
    b = b * 131 + p.dst[i];
  }
  const uint64_t lo = std::min(a, b), hi = std::max(a, b);
  uint64_t h = lo * 0x9e3779b97f4a7c15ULL ^ (hi + 0x632be59bd9b4e019ULL);
  h ^= h >> 29;
  return static_cast<uint32_t>(h * 0xbf58476d1ce4e5b9ULL >> 32);
}

}  // namespace

// Publishes one worker's plain counters into the shared Prometheus series.
class Agent::Publisher {
 public:
  Publisher(Metrics& m, int worker)
      : m_(m), active_(m.active_family.Add({{"worker", std::to_string(worker)}})) {}

  // Called by the worker's own thread; `source` when it owns one.
  void Publish(const Worker& w, PacketSource* source) {
    const FlowTableStats& s = w.flows().stats();
    if (s.tcp_bytes > last_.tcp_bytes) {
      m_.capture_loss.Set(static_cast<double>(s.tcp_missed_bytes - last_.tcp_missed_bytes) /
                          static_cast<double>(s.tcp_bytes - last_.tcp_bytes));
    }
    if (source) {
      const SourceStats st = source->stats();
      source_received.store(st.received, std::memory_order_relaxed);
      source_dropped.store(st.dropped, std::memory_order_relaxed);
    }
    m_.evicted.Increment(s.flows_evicted - last_.flows_evicted);
    m_.truncated.Increment(s.payload_truncated - last_.payload_truncated);
    m_.ooo_dropped.Increment(s.ooo_dropped - last_.ooo_dropped);
    last_ = s;
    m_.non_ip.Increment(w.non_ip() - last_non_ip_);
    last_non_ip_ = w.non_ip();
    const DefragStats& d = w.defrag().stats();
    m_.fragments.Increment(d.fragments - last_defrag_.fragments);
    m_.reassembled.Increment(d.datagrams - last_defrag_.datagrams);
    m_.frag_dropped.Increment(d.timed_out + d.evicted - last_defrag_.timed_out -
                              last_defrag_.evicted);
    last_defrag_ = d;
    for (const auto* weirds : {&w.weirds(), &w.flows().weirds()}) {
      for (const auto& [name, n] : *weirds) {
        uint64_t& last = last_weirds_[name];
        m_.Weird(name).Increment(n - last);
        last = n;
      }
    }
    active_.Set(w.flows().size());
    active_flows.store(w.flows().size(), std::memory_order_relaxed);
  }

  std::atomic<uint64_t> active_flows{0};
  std::atomic<uint64_t> source_received{0};
  std::atomic<uint64_t> source_dropped{0};
  std::atomic<bool> done{false};

 private:
  Metrics& m_;
  prometheus::Gauge& active_;
  FlowTableStats last_;
  DefragStats last_defrag_;
  uint64_t last_non_ip_ = 0;
  absl::flat_hash_map<const char*, uint64_t> last_weirds_;
};

// What the worker threads and the main thread share during a run.
struct Agent::Shared {
  explicit Shared(const ExporterConfig& c) : exporter(c) {}
  Exporter exporter;
  absl::Mutex export_mu;
  absl::Status export_status ABSL_GUARDED_BY(export_mu);
  std::atomic<uint64_t> exported{0};
  std::atomic<bool> export_failed{false};
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  absl::Status read_status;  // set by the reading thread only

  void Export(FinishedConnection&& c) {
    exported.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock l(&export_mu);
    if (!export_status.ok()) return;
    export_status = exporter.Add(std::move(c));
    if (!export_status.ok()) export_failed = true;
  }
};

absl::Status Agent::Open() {
  sources_.clear();
  if (!config_.read_file.empty()) {
    // One worker keeps payload by reference into the mapped file (see
    // RawPacket::shared); several copy it out of their packet rings.
    PcapFileOptions options;
    options.release_behind = config_.workers > 1;
    auto src = PcapFileSource::Open(config_.read_file, config_.bpf, options);
    if (!src.ok()) return src.status();
    sources_.push_back(std::move(*src));
  } else if (config_.source == "pcap") {
    auto src = LivePcapSource::Open(config_.live);
    if (!src.ok()) return src.status();
    sources_.push_back(std::move(*src));
  } else {
    // One ring per worker in one fanout group: the kernel spreads flows.
    const int group = getpid() & 0xffff;
    for (int i = 0; i < config_.workers; ++i) {
      auto src = AfPacketSource::Open(config_.live, config_.workers > 1 ? group : -1);
      if (!src.ok()) return src.status();
      sources_.push_back(std::move(*src));
    }
  }
  if (!config_.interface.empty()) {
    LogInfo("capturing on %s with %s (%d workers)%s", config_.interface, config_.source,
            config_.workers,
            config_.bpf.empty() ? "" : absl::StrCat(", filter '", config_.bpf, "'"));
  }
  if (!config_.user.empty()) {
    absl::Status st = DropPrivileges(config_.user);
    if (!st.ok()) return st;
    LogInfo("running as user %s", config_.user);
  }
  return absl::OkStatus();
}

// A worker with a source of its own (AF_PACKET): read, handle, and let time
// pass on a quiet link.
void Agent::WorkerLoop(PacketSource& source, Worker& w, Publisher& pub, Shared& shared) {
  RawPacket raw;
  uint64_t count = 0, bytes = 0;
  while (!stop_.load(std::memory_order_relaxed) &&
         !shared.export_failed.load(std::memory_order_relaxed)) {
    const PacketSource::Next next = source.Read(&raw);
    if (next == PacketSource::Next::kPacket) {
      w.Handle(source.datalink(), raw);
      bytes += raw.wirelen;
      if ((++count & 1023) == 0) {
        shared.packets.fetch_add(1024, std::memory_order_relaxed);
        shared.bytes.fetch_add(bytes, std::memory_order_relaxed);
        bytes = 0;
        pub.Publish(w, &source);
      }
    } else if (next == PacketSource::Next::kTimeout) {
      w.Tick(absl::ToUnixMicros(absl::Now()));
      pub.Publish(w, &source);
    } else {
      if (next == PacketSource::Next::kError) LogError("%s", source.error());
      break;
    }
  }
  shared.packets.fetch_add(count & 1023, std::memory_order_relaxed);
  shared.bytes.fetch_add(bytes, std::memory_order_relaxed);
  w.FlushAll();
  pub.Publish(w, &source);
  pub.done = true;
}

absl::Status Agent::Run(const std::function<void(const AgentProgress&)>& progress) {
  if (sources_.empty()) {
    absl::Status st = Open();
    if (!st.ok()) return st;
  }
  PacketSource& source = *sources_.front();
  const int dlt = source.datalink();
  const bool live = source.live();
  const bool own_sources = sources_.size() > 1 || (live && config_.source == "afpacket");

  Shared shared(config_.exporter);
  const int n = config_.workers;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<Publisher>> publishers;
  for (int i = 0; i < n; ++i) {
    FlowTableConfig fc = config_.flows;
    fc.worker = i;
    workers.push_back(std::make_unique<Worker>(
        fc, config_.defrag, [&shared](FinishedConnection&& c) { shared.Export(std::move(c)); }));
    publishers.push_back(std::make_unique<Publisher>(*metrics_, i));
  }

  const absl::Time start = absl::Now();
  AgentProgress p;
  uint64_t published_acked = 0, published_failed = 0, published_batches = 0, published_exported = 0;
  uint64_t published_packets = 0, published_bytes = 0, published_blocked = 0, published_dropped = 0;
  absl::Duration published_blocked_time;
  absl::Time next_stats = start + config_.stats_interval;
  absl::Time next_partial = start + config_.exporter.max_delay;
  absl::Time next_trim = start + kPayloadTrimInterval;
  SourceStats last_stats;
  auto report = [&](bool final_report) {
    if (own_sources) {
      p.packets = shared.packets.load();
      p.bytes = shared.bytes.load();
    }
    metrics_->packets.Increment(p.packets - published_packets);
    metrics_->bytes.Increment(p.bytes - published_bytes);
    published_packets = p.packets;
    published_bytes = p.bytes;
    const uint64_t e = shared.exported.load();
    metrics_->connections.Increment(e - published_exported);
    published_exported = e;
    const uint64_t acked = shared.exporter.connections_acked(),
                   failed = shared.exporter.connections_failed();
    metrics_->connections_acked.Increment(acked - published_acked);
    metrics_->connections_failed.Increment(failed - published_failed);
    metrics_->batches.Increment(shared.exporter.batches_sent() - published_batches);
    published_acked = acked;
    published_failed = failed;
    published_batches = shared.exporter.batches_sent();
    metrics_->pending_batches.Set(shared.exporter.pending());
    if (absl::Now() >= next_trim) {
      // Free payload memory beyond a reserve goes back to the kernel once
      // it has stayed unused for a while (a burst is over).
      PayloadPool::Global().Trim(kPayloadReserveBytes);
      next_trim = absl::Now() + kPayloadTrimInterval;
    }
    const PayloadPoolStats pool = PayloadPool::Global().stats();
    metrics_->payload_bytes.Set(pool.in_use_bytes);
    metrics_->payload_free_bytes.Set(pool.free_bytes - pool.released_bytes);
    metrics_->blocked_sends.Increment(shared.exporter.blocked_sends() - published_blocked);
    metrics_->dropped_batches.Increment(shared.exporter.dropped_batches() - published_dropped);
    published_blocked = shared.exporter.blocked_sends();
    const absl::Duration blocked_time = shared.exporter.blocked_time();
    metrics_->blocked_seconds.Increment(
        absl::ToDoubleSeconds(blocked_time - published_blocked_time));
    published_blocked_time = blocked_time;
    p.export_wait_seconds = absl::ToDoubleSeconds(blocked_time);
    published_dropped = shared.exporter.dropped_batches();
    p.fraction = final_report ? 1.0 : source.progress();
    p.connections = e;
    p.active_flows = 0;
    for (const auto& pub : publishers)
      p.active_flows += pub->active_flows.load(std::memory_order_relaxed);
    p.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (live) {
      SourceStats total;
      for (const auto& pub : publishers) {
        total.received += pub->source_received.load(std::memory_order_relaxed);
        total.dropped += pub->source_dropped.load(std::memory_order_relaxed);
      }
      if (!own_sources) total = source.stats();
      metrics_->kernel_received.Increment(total.received - last_stats.received);
      metrics_->kernel_dropped.Increment(total.dropped - last_stats.dropped);
      if (final_report || absl::Now() >= next_stats) {
        const uint64_t dropped = total.dropped - last_stats.dropped;
        const uint64_t seen = total.received - last_stats.received;
        LogInfo(
            "capture on %s: %d packets, %d dropped by the kernel (%.3f%%), capture loss estimate "
            "%.3f%%, "
            "%d connections, %d active flows",
            config_.interface, seen, dropped,
            seen + dropped ? 100.0 * dropped / (seen + dropped) : 0.0,
            100.0 * metrics_->capture_loss.Value(), e, p.active_flows);
        next_stats = absl::Now() + config_.stats_interval;
        last_stats = total;
      }
      // A quiet link must not hold records back: send what is batched.
      if (absl::Now() >= next_partial) {
        next_partial = absl::Now() + config_.exporter.max_delay;
        absl::MutexLock l(&shared.export_mu);
        if (shared.export_status.ok()) shared.export_status = shared.exporter.SendPartial();
      }
    }
    if (progress) progress(p);
  };

  std::vector<std::thread> threads;
  if (own_sources) {
    for (int i = 0; i < n; ++i) {
      threads.emplace_back(
          [&, i] { WorkerLoop(*sources_[i], *workers[i], *publishers[i], shared); });
    }
    while (!stop_.load() && !shared.export_failed.load()) {
      bool all_done = true;
      for (const auto& pub : publishers) all_done = all_done && pub->done.load();
      if (all_done) break;
      absl::SleepFor(absl::Milliseconds(200));
      report(false);
    }
    for (auto& t : threads) t.join();
  } else {
    // One reader. With several workers it copies each packet into its
    // worker's ring; with one, the worker runs inline on the source's buffer
    // (no copy).
    std::vector<std::unique_ptr<PacketRing>> rings;
    if (n > 1) {
      for (int i = 0; i < n; ++i) {
        rings.push_back(std::make_unique<PacketRing>(8 << 20));
        threads.emplace_back([&, i] {
          Worker& w = *workers[i];
          PacketRing& ring = *rings[i];
          RawPacket raw;
          uint64_t count = 0;
          for (;;) {
            if (ring.Peek(&raw)) {
              w.Handle(dlt, raw);
              ring.Pop();
              if ((++count & 4095) == 0) publishers[i]->Publish(w, nullptr);
            } else if (ring.closed()) {
              if (!ring.Peek(&raw)) break;
            } else {
              if (live) w.Tick(absl::ToUnixMicros(absl::Now()));
              PacketRing::Wait();
            }
          }
          w.FlushAll();
          publishers[i]->Publish(w, nullptr);
        });
      }
    }
    RawPacket raw;
    DecodedPacket pkt;
    absl::Time next_report = start;
    uint64_t since_check = 0;
    while (!stop_.load(std::memory_order_relaxed) &&
           !shared.export_failed.load(std::memory_order_relaxed)) {
      const PacketSource::Next next = source.Read(&raw);
      if (next == PacketSource::Next::kEnd) break;
      if (next == PacketSource::Next::kError) {
        shared.read_status = absl::DataLossError(
            live ? source.error()
                 : absl::StrCat(source.error(), " (", p.packets, " packets read before it)"));
        break;
      }
      if (next == PacketSource::Next::kPacket) {
        ++p.packets;
        p.bytes += raw.wirelen;
        if (n == 1) {
          workers[0]->Handle(dlt, raw);
        } else {
          const char* weird = nullptr;
          const DecodeResult r = Decode(dlt, raw, &pkt, &weird);
          const uint32_t w =
              (r == DecodeResult::kOk || r == DecodeResult::kFragment) ? DispatchHash(pkt) % n : 0;
          rings[w]->Push(raw);
        }
      } else if (n == 1) {
        workers[0]->Tick(absl::ToUnixMicros(absl::Now()));
      }
      if (++since_check >= 1024 || next == PacketSource::Next::kTimeout) {
        since_check = 0;
        if (n == 1) publishers[0]->Publish(*workers[0], nullptr);
        const absl::Time now = absl::Now();
        if (now >= next_report) {
          report(false);
          next_report = now + absl::Milliseconds(200);
        }
      }
    }
    if (n == 1) {
      workers[0]->FlushAll();
      publishers[0]->Publish(*workers[0], nullptr);
    } else {
      for (auto& r : rings) r->Close();
      for (auto& t : threads) t.join();
    }
  }
  {
    absl::MutexLock l(&shared.export_mu);
    if (shared.export_status.ok()) shared.export_status = shared.exporter.Flush();
  }
  report(true);
  summary_ = p;
  absl::Status export_status;
  {
    absl::MutexLock l(&shared.export_mu);
    export_status = shared.export_status;
  }
  if (!export_status.ok()) return export_status;
  if (shared.exporter.connections_dropped() > 0) {
    LogWarning(
        "%d connections were dropped because the send buffer was full (batch.when_full: "
        "drop_oldest)",
        shared.exporter.connections_dropped());
  }
  if (shared.exporter.connections_failed() > 0) {
    return absl::InternalError(absl::StrCat(shared.exporter.connections_failed(),
                                            " connections were refused by the analyzer pool"));
  }
  return shared.read_status;
}

}  // namespace gourmet::capture
