// The per-worker flow table: connection tracking, Zeek's TCP state and
// history, TCP reassembly and export of finished connections.
//
// One FlowTable belongs to one worker thread and is never locked. Time comes
// from packet timestamps only, so a pcap run is deterministic. Every buffer is
// capped, and reaching a cap is counted.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "capture-agent/packet.h"
#include "capture-agent/payload.h"
#include "gourmet/v1/connection.pb.h"

namespace gourmet::capture {

struct FlowTableConfig {
  absl::Duration tcp_timeout = absl::Minutes(5);
  absl::Duration udp_timeout = absl::Minutes(1);
  absl::Duration icmp_timeout = absl::Minutes(1);
  absl::Duration other_timeout = absl::Minutes(1);
  absl::Duration close_delay = absl::Seconds(5);   // after FIN/FIN or RST (Zeek's tcp_close_delay)
  absl::Duration active_timeout = absl::Hours(1);  // longest a record may span
  size_t max_flows = 1 << 20;
  uint64_t payload_depth = 1 << 20;  // bytes kept per direction
  bool check_checksums = false;      // off: captures on the sending host have offloaded checksums
  uint64_t max_ooo_bytes = 1 << 20;  // out-of-order bytes buffered per direction
  uint64_t uid_seed = 0;
  uint16_t community_id_seed = 0;
  uint32_t worker = 0;
  std::string sensor;
};

// Counters a FlowTable keeps; read by the owner between packets.
struct FlowTableStats {
  uint64_t packets = 0;
  uint64_t flows_created = 0;
  uint64_t flows_exported = 0;
  uint64_t flows_evicted = 0;      // pushed out by max_flows
  uint64_t payload_truncated = 0;  // bytes beyond payload_depth
  uint64_t ooo_dropped = 0;        // out-of-order bytes beyond max_ooo_bytes
  // For the capture-loss estimate: TCP bytes by sequence space in exported
  // connections, and how many of them were never seen (Zeek's capture_loss).
  uint64_t tcp_bytes = 0;
  uint64_t tcp_missed_bytes = 0;
};

// Canonical flow key: the smaller (address, port) endpoint first, so both
// directions find the same entry. Zero-initialised so it hashes as bytes.
struct FlowKey {
  uint8_t addr_a[16];
  uint8_t addr_b[16];
  uint16_t port_a;
  uint16_t port_b;
  uint32_t vlan;
  uint8_t proto;
  uint8_t ip_version;
  uint8_t pad[2];

  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }
  template <typename H>
  friend H AbslHashValue(H h, const FlowKey& k) {
    return H::combine_contiguous(std::move(h), reinterpret_cast<const unsigned char*>(&k),
                                 sizeof(k));
  }
};

// Builds the canonical key of `p`; `*from_a` says whether p was sent by side A.
FlowKey MakeFlowKey(const DecodedPacket& p, bool* from_a);

// A connection as the flow table hands it on: its record without chunks,
// and the payload, still in its blocks.
struct FinishedConnection {
  gourmet::v1::Connection record;
  Payload payload;
};
// The whole record with the payload copied into its chunks (tests, tools).
gourmet::v1::Connection ToProto(FinishedConnection&& c);

class FlowTable {
 public:
  using ExportFn = std::function<void(FinishedConnection&&)>;

  FlowTable(FlowTableConfig config, ExportFn on_export);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  static constexpr uint64_t kNoFlow = ~uint64_t{0};

  // Accounts one decoded IP packet and expires flows whose time has come.
  // Returns the serial of the packet's flow (kNoFlow if it was exported at
  // once). `tunnel_parent` is the serial of the tunnel flow that carried it.
  uint64_t Process(const DecodedPacket& p, uint64_t tunnel_parent = kNoFlow);
  // Records an anomaly on the flow of `p` (decoded to ports), if tracked.
  void AddWeird(const DecodedPacket& p, const char* name);
  // A packet with a bad transport checksum: not analysed, but Zeek's 'C'
  // goes into the history of its flow.
  void BadChecksum(const DecodedPacket& p);
  // Anomalies the flow table itself found, by name.
  const absl::flat_hash_map<const char*, uint64_t>& weirds() const { return weirds_; }
  // Exports every flow (end of input or shutdown).
  void FlushAll();
  // Lets time pass without packets (live capture on a quiet link): flows
  // whose timeout has come are exported. `now_us` must not go backwards.
  void Tick(int64_t now_us) {
    if (now_us - last_sweep_us_ >= 1000000) Expire(now_us);
  }

  size_t size() const { return flows_.size(); }
  const FlowTableStats& stats() const { return stats_; }

  enum TimeoutClass : uint8_t { kTcp, kUdp, kIcmp, kOther, kClosing, kNumClasses };

  // TCP endpoint states, as Zeek's TCP_ENDPOINT_*.
  enum TcpState : uint8_t {
    kInactive,
    kSynSent,
    kSynAckSent,
    kPartial,
    kEstablished,
    kClosed,
    kReset
  };

  struct DirStats {
    uint64_t pkts = 0;
    uint64_t ip_bytes = 0;
    uint64_t bytes = 0;  // payload: TCP sequence space, or UDP/ICMP payload
  };

  struct TcpDir {
    uint32_t base = 0;          // sequence number of relative offset 0 (ISN + 1)
    uint32_t fin_seq = 0;       // sequence number of this side's FIN, once sent
    uint64_t next = 0;          // next relative offset expected in order
    uint64_t max_end = 0;       // highest relative end of data seen
    uint16_t retransmits = 0;   // history 'T' repeats at 1, 10, 100, ... of these
    uint16_t zero_windows = 0;  // history 'W', repeated likewise
    TcpState state = kInactive;
    bool has_base : 1;
    bool fin_sent : 1;
    bool fin_acked : 1;  // the peer acknowledged our FIN: nothing more is due
    uint8_t retransmits_logged = 0;
    uint8_t zero_windows_logged = 0;
    TcpDir() : has_base(false), fin_sent(false), fin_acked(false) {}
  };

  // Rarely needed, so allocated on the first payload byte or anomaly.
  struct FlowExtra {
    Payload payload;
    uint64_t kept[2] = {0, 0};
    std::map<uint64_t, std::string> ooo[2];  // relative offset -> bytes
    uint64_t ooo_bytes[2] = {0, 0};
    uint64_t missed[2] = {0, 0};     // bytes in gaps
    uint64_t truncated[2] = {0, 0};  // bytes beyond the payload depth
    std::vector<const char*> weirds;
    std::string tunnel_parent;  // uid of the enclosing tunnel connection
  };

  // Idle flows must stay small (<= 256 bytes with the table slot), so rare
  // state lives in FlowExtra and flows come from a pool, without malloc headers.
  struct Flow {
    FlowKey key;
    uint32_t history_seen = 0;  // one bit per (letter, direction); fills the key's padding
    Flow* prev = nullptr;       // timeout list links
    Flow* next = nullptr;
    int64_t first_ts = 0;
    int64_t last_ts = 0;
    uint64_t serial = 0;
    DirStats dir[2];  // [0] originator, [1] responder
    TcpDir tcp[2];
    std::unique_ptr<FlowExtra> extra;
    char history[19] = {};  // Zeek letters; long enough for every letter and repeat level
    uint8_t history_len = 0;
    bool orig_is_a = true;
    TimeoutClass list = kNumClasses;
  };

 private:
  struct List {
    Flow* head = nullptr;
    Flow* tail = nullptr;
  };
  // The table holds pointers; lookups go by key (transparent hash and eq).
  struct FlowHash {
    using is_transparent = void;
    size_t operator()(const Flow* f) const { return absl::Hash<FlowKey>()(f->key); }
    size_t operator()(const FlowKey& k) const { return absl::Hash<FlowKey>()(k); }
  };
  struct FlowEq {
    using is_transparent = void;
    static const FlowKey& K(const Flow* f) { return f->key; }
    static const FlowKey& K(const FlowKey& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return K(a) == K(b);
    }
  };
  // Fixed-size blocks of flows with a free list: no allocation per flow once warm.
  class FlowPool {
   public:
    Flow* New();
    void Delete(Flow* f);
    ~FlowPool();

   private:
    std::vector<void*> blocks_;
    Flow* free_ = nullptr;  // linked through Flow::next
  };

  Flow* Lookup(const DecodedPacket& p, bool* from_a);
  void Touch(Flow* f, TimeoutClass c);
  void Unlink(Flow* f);
  void Expire(int64_t now_us);
  void EvictOne();
  void Export(Flow* f, gourmet::v1::EndReason reason);
  absl::Duration Timeout(TimeoutClass c) const;

  void TcpPacket(Flow* f, int dir, const DecodedPacket& p);
  void AddHistory(Flow* f, int dir, char letter);
  static const char* ConnState(const Flow& f, uint8_t proto);
  void Deliver(Flow* f, int dir, int64_t ts_us, const uint8_t* data, uint64_t len, uint64_t gap,
               bool merge, const SharedBytesRef* shared = nullptr);
  void FlushReassembly(Flow* f, int dir);
  void AddMissed(Flow* f, int dir, uint64_t n);
  void FlowWeird(Flow* f, const char* name);
  bool RepeatHistory(Flow* f, int dir, char letter, uint64_t count, uint8_t* logged);
  bool SameAsDelivered(const Flow* f, int dir, uint64_t rel, const uint8_t* data,
                       uint64_t len) const;

  FlowTableConfig config_;
  ExportFn on_export_;
  FlowPool pool_;
  absl::flat_hash_set<Flow*, FlowHash, FlowEq> flows_;
  List lists_[kNumClasses];
  int64_t last_sweep_us_ = 0;
  uint64_t next_serial_ = 0;
  FlowTableStats stats_;
  absl::flat_hash_map<const char*, uint64_t> weirds_;
};

}  // namespace gourmet::capture
