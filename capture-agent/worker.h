// A capture worker: decodes packets, reassembles IP fragments, unwraps
// tunnels and feeds the flow table. Owns all its state; one thread calls it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "capture-agent/decoder.h"
#include "capture-agent/defrag.h"
#include "capture-agent/flow_table.h"

namespace gourmet::capture {

class Worker {
 public:
  Worker(FlowTableConfig flows, DefragConfig defrag, FlowTable::ExportFn on_export)
      : check_checksums_(flows.check_checksums),
        flows_(std::move(flows), std::move(on_export)),
        defrag_(defrag) {}

  // Processes one captured packet of link type `dlt`.
  void Handle(int dlt, const RawPacket& raw);
  // Exports every open flow.
  void FlushAll() { flows_.FlushAll(); }
  // Lets time pass on a quiet live link (wall clock, microseconds).
  void Tick(int64_t now_us) { flows_.Tick(now_us); }

  const FlowTable& flows() const { return flows_; }
  const Defragmenter& defrag() const { return defrag_; }
  uint64_t non_ip() const { return non_ip_; }
  // Anomaly counts by name (static strings), for the owner to publish.
  const absl::flat_hash_map<const char*, uint64_t>& weirds() const { return weirds_; }

 private:
  static constexpr int kMaxTunnelDepth = 3;

  void HandleDecoded(DecodeResult r, DecodedPacket& pkt, const char* weird, uint64_t parent,
                     int depth);
  void CountWeird(const char* name) { ++weirds_[name]; }

  const bool check_checksums_;
  FlowTable flows_;
  Defragmenter defrag_;
  uint64_t non_ip_ = 0;
  absl::flat_hash_map<const char*, uint64_t> weirds_;
};

}  // namespace gourmet::capture
