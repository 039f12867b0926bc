#include "capture-agent/flow_table.h"

#include <algorithm>
#include <cstring>
#include <regex>

#include "capture-agent/community_id.h"
#include "capture-agent/uid.h"

namespace gourmet::capture {
namespace {

constexpr int64_t kSweepIntervalUs = 1000000;
// History letters tracked once per direction (Zeek's CheckHistory).
constexpr char kLetters[] = "SHADFRTGWIQC";

int LetterIndex(char upper) {
  const char* p = std::strchr(kLetters, upper);
  return p ? static_cast<int>(p - kLetters) : -1;
}

int64_t ToMicros(absl::Duration d) { return absl::ToInt64Microseconds(d); }

}  // namespace

FlowKey MakeFlowKey(const DecodedPacket& p, bool* from_a) {
  FlowKey k;
  std::memset(&k, 0, sizeof(k));
  const int alen = p.ip_version == 4 ? 4 : 16;
  const int cmp = std::memcmp(p.src, p.dst, alen);
  const bool src_first = cmp < 0 || (cmp == 0 && p.sport <= p.dport);
  *from_a = src_first;
  std::memcpy(k.addr_a, src_first ? p.src : p.dst, alen);
  std::memcpy(k.addr_b, src_first ? p.dst : p.src, alen);
  k.port_a = src_first ? p.sport : p.dport;
  k.port_b = src_first ? p.dport : p.sport;
  if (p.vlan_count > 0) {
    k.vlan = (static_cast<uint32_t>(p.vlan[0]) + 1) << 16;
    if (p.vlan_count > 1) k.vlan |= p.vlan[1] + 1u;
  }
  k.proto = p.ip_proto;
  k.ip_version = p.ip_version;
  return k;
}

gourmet::v1::Connection ToProto(FinishedConnection&& c) {
  gourmet::v1::Connection out = std::move(c.record);
  for (size_t i = 0; i < c.payload.chunk_count(); ++i) {
    const Payload::Chunk ch = c.payload.chunk(i);
    gourmet::v1::Chunk* o = out.add_chunks();
    o->set_dir(ch.dir == 0 ? gourmet::v1::Chunk::ORIG : gourmet::v1::Chunk::RESP);
    o->set_ts_us(ch.ts_us);
    o->set_gap_before(ch.gap_before);
    o->set_data(c.payload.ChunkBytes(i));
  }
  return out;
}

FlowTable::FlowTable(FlowTableConfig config, ExportFn on_export)
    : config_(std::move(config)), on_export_(std::move(on_export)) {}

FlowTable::~FlowTable() {
  for (Flow* f : flows_) pool_.Delete(f);
}

namespace {
constexpr size_t kFlowsPerBlock = 4096;
}

FlowTable::Flow* FlowTable::FlowPool::New() {
  if (!free_) {
    auto* block = static_cast<Flow*>(::operator new(sizeof(Flow) * kFlowsPerBlock));
    blocks_.push_back(block);
    for (size_t i = 0; i < kFlowsPerBlock; ++i) {
      block[i].next = free_;  // raw storage: only the link is used until construction
      free_ = &block[i];
    }
  }
  Flow* f = free_;
  free_ = f->next;
  return new (f) Flow();
}

void FlowTable::FlowPool::Delete(Flow* f) {
  f->~Flow();
  f->next = free_;
  free_ = f;
}

FlowTable::FlowPool::~FlowPool() {
  for (void* b : blocks_) ::operator delete(b);
}

absl::Duration FlowTable::Timeout(TimeoutClass c) const {
  switch (c) {
    case kTcp:
      return config_.tcp_timeout;
    case kUdp:
      return config_.udp_timeout;
    case kIcmp:
      return config_.icmp_timeout;
    case kOther:
      return config_.other_timeout;
    case kClosing:
      return config_.close_delay;
    default:
      return config_.other_timeout;
  }
}

void FlowTable::Unlink(Flow* f) {
  if (f->list == kNumClasses) return;
  List& l = lists_[f->list];
  (f->prev ? f->prev->next : l.head) = f->next;
  (f->next ? f->next->prev : l.tail) = f->prev;
  f->prev = f->next = nullptr;
  f->list = kNumClasses;
}

void FlowTable::Touch(Flow* f, TimeoutClass c) {
  if (f->list == c && lists_[c].tail == f) return;
  Unlink(f);
  List& l = lists_[c];
  f->prev = l.tail;
  f->next = nullptr;
  (l.tail ? l.tail->next : l.head) = f;
  l.tail = f;
  f->list = c;
}

void FlowTable::AddHistory(Flow* f, int dir, char letter) {
  if (letter != '^') {
    const int idx = LetterIndex(letter);
    if (idx >= 0) {
      const uint32_t bit = 1u << (idx * 2 + dir);
      if (f->history_seen & bit) return;
      f->history_seen |= bit;
    }
    if (dir == 1) letter = static_cast<char>(letter - 'A' + 'a');
  }
  if (f->history_len < sizeof(f->history)) f->history[f->history_len++] = letter;
}

uint64_t FlowTable::Process(const DecodedPacket& p, uint64_t tunnel_parent) {
  ++stats_.packets;
  if (p.ts_us - last_sweep_us_ >= kSweepIntervalUs) Expire(p.ts_us);

  bool from_a = true;
  FlowKey key = MakeFlowKey(p, &from_a);
  auto it = flows_.find(key);
  Flow* f;
  if (it != flows_.end()) {
    f = *it;
  } else {
    if (flows_.size() >= config_.max_flows) EvictOne();
    f = pool_.New();
    f->key = key;
    flows_.insert(f);
    f->serial = next_serial_++;
    f->first_ts = f->last_ts = p.ts_us;
    f->orig_is_a = from_a;
    ++stats_.flows_created;
    if (tunnel_parent != kNoFlow) {
      f->extra = std::make_unique<FlowExtra>();
      f->extra->tunnel_parent = MakeUid(config_.uid_seed, config_.worker, tunnel_parent);
    }
    // A SYN-ACK first means we missed the SYN: its receiver is the originator.
    if (p.ip_proto == 6 && (p.tcp_flags & (kSyn | kAck)) == (kSyn | kAck)) {
      f->orig_is_a = !from_a;
      AddHistory(f, 0, '^');
    }
  }
  const int dir = from_a == f->orig_is_a ? 0 : 1;
  if (p.ts_us > f->last_ts) f->last_ts = p.ts_us;
  DirStats& d = f->dir[dir];
  ++d.pkts;
  d.ip_bytes += p.ip_len;

  TimeoutClass cls;
  switch (p.ip_proto) {
    case 6: {
      TcpPacket(f, dir, p);
      const TcpState os = f->tcp[0].state, rs = f->tcp[1].state;
      // Both FINs sent and acknowledged: the connection is over, and its
      // payload need not wait out the close delay in memory.
      if (os == kClosed && rs == kClosed && f->tcp[0].fin_acked && f->tcp[1].fin_acked) {
        Unlink(f);
        Export(f, gourmet::v1::END_FIN);
        return kNoFlow;
      }
      const bool closing = (os == kClosed && rs == kClosed) || os == kReset || rs == kReset;
      cls = closing ? kClosing : kTcp;
      break;
    }
    case 17:
      d.bytes += p.payload_wire_len;
      if (p.payload_wire_len > 0) AddHistory(f, dir, 'D');  // Zeek marks UDP data too
      if (p.payload_len > 0)
        Deliver(f, dir, p.ts_us, p.payload, p.payload_len, 0, /*merge=*/false, p.shared);
      if (p.payload_len < p.payload_wire_len) AddMissed(f, dir, p.payload_wire_len - p.payload_len);
      cls = kUdp;
      break;
    case 1:
    case 58:
      d.bytes += p.payload_wire_len;
      cls = kIcmp;
      break;
    default:
      d.bytes += p.payload_wire_len;
      cls = kOther;
      break;
  }
  Touch(f, cls);
  if (p.ts_us - f->first_ts > ToMicros(config_.active_timeout)) {
    Export(f, gourmet::v1::END_ACTIVE);
    return kNoFlow;
  }
  return f->serial;
}

void FlowTable::AddWeird(const DecodedPacket& p, const char* name) {
  bool from_a;
  auto it = flows_.find(MakeFlowKey(p, &from_a));
  if (it == flows_.end()) return;
  Flow* f = *it;
  if (!f->extra) f->extra = std::make_unique<FlowExtra>();
  auto& w = f->extra->weirds;
  if (std::find(w.begin(), w.end(), name) == w.end()) w.push_back(name);
}

void FlowTable::TcpPacket(Flow* f, int dir, const DecodedPacket& p) {
  TcpDir& e = f->tcp[dir];
  TcpDir& peer = f->tcp[1 - dir];
  const uint8_t fl = p.tcp_flags;
  const bool syn = fl & kSyn, ack = fl & kAck, fin = fl & kFin, rst = fl & kRst;

  if (syn && (fin || rst)) AddHistory(f, dir, 'Q');  // multi-flag packet
  if (fin && rst) AddHistory(f, dir, 'I');           // inconsistent packet
  if (p.tcp_window == 0 && !syn && !rst) {
    if (e.zero_windows < UINT16_MAX) ++e.zero_windows;
    RepeatHistory(f, dir, 'W', e.zero_windows, &e.zero_windows_logged);
  }
  if (syn) AddHistory(f, dir, ack ? 'H' : 'S');
  if (fin) AddHistory(f, dir, 'F');
  if (rst) AddHistory(f, dir, 'R');
  if (p.payload_wire_len > 0) {
    AddHistory(f, dir, 'D');
  } else if (ack && !syn && !fin && !rst) {
    AddHistory(f, dir, 'A');
  }

  // Endpoint state machine (Zeek's TCP_ENDPOINT_* transitions).
  if (rst) {
    e.state = kReset;
  } else if (syn) {
    if (ack) {
      if (e.state == kInactive || e.state == kSynSent) e.state = kSynAckSent;
    } else if (e.state == kInactive) {
      e.state = kSynSent;
    }
  } else {
    if (fin) {
      if (e.state != kReset) e.state = kClosed;
    } else if (e.state == kSynSent || e.state == kSynAckSent) {
      if (ack) e.state = kEstablished;
    } else if (e.state == kInactive) {
      e.state = kPartial;
    }
    if (ack && peer.state == kSynAckSent) peer.state = kEstablished;
  }

  if (syn && !e.has_base) {
    e.base = p.seq + 1;
    e.has_base = true;
  }
  if (fin && !e.fin_sent) {
    e.fin_sent = true;
    e.fin_seq = p.seq + p.payload_wire_len;
  }
  if (ack && peer.fin_sent && static_cast<int32_t>(p.ack - (peer.fin_seq + 1)) >= 0)
    peer.fin_acked = true;
  if (p.payload_wire_len == 0) return;
  if (!e.has_base) {  // picked up mid-stream
    e.base = p.seq;
    e.has_base = true;
  }
  // Unwrap the 32-bit sequence number around the next expected offset.
  const uint32_t rel32 = p.seq - e.base;
  const int64_t rel =
      static_cast<int64_t>(e.next) + static_cast<int32_t>(rel32 - static_cast<uint32_t>(e.next));
  const int64_t end = rel + p.payload_wire_len;
  if (end <= 0) return;  // entirely before the stream start: stray
  if (static_cast<uint64_t>(end) > e.max_end) e.max_end = end;

  // Data already seen wins; different bytes for the same range are an anomaly.
  if (rel < static_cast<int64_t>(e.next) && rel >= 0) {
    const uint64_t overlap = std::min<uint64_t>(end, e.next) - rel;
    const uint64_t n = std::min<uint64_t>(overlap, p.payload_len);
    if (n > 0 && !SameAsDelivered(f, dir, rel, p.payload, n))
      FlowWeird(f, "retransmission_inconsistency");
  }
  if (static_cast<uint64_t>(end) <= e.next) {
    if (e.retransmits < UINT16_MAX) ++e.retransmits;
    RepeatHistory(f, dir, 'T', e.retransmits, &e.retransmits_logged);
    return;
  }
  if (rel <= static_cast<int64_t>(e.next)) {
    const uint64_t skip = e.next - rel;
    if (skip < p.payload_len) {
      Deliver(f, dir, p.ts_us, p.payload + skip, p.payload_len - skip, 0, /*merge=*/true, p.shared);
    }
    if (p.payload_len < p.payload_wire_len) {  // cut by the snap length
      AddMissed(f, dir, p.payload_wire_len - std::max<uint64_t>(p.payload_len, skip));
    }
    e.next = end;
    // Drain buffered segments that are now in order.
    if (f->extra) {
      auto& ooo = f->extra->ooo[dir];
      while (!ooo.empty() && ooo.begin()->first <= e.next) {
        auto seg = ooo.begin();
        const uint64_t seg_end = seg->first + seg->second.size();
        if (seg_end > e.next) {
          const uint64_t s = e.next - seg->first;
          Deliver(f, dir, p.ts_us, reinterpret_cast<const uint8_t*>(seg->second.data()) + s,
                  seg->second.size() - s, 0, true);
          e.next = seg_end;
        }
        f->extra->ooo_bytes[dir] -= seg->second.size();
        ooo.erase(seg);
      }
    }
    return;
  }
  // Ahead of the next expected byte: buffer until the hole is filled.
  if (!f->extra) f->extra = std::make_unique<FlowExtra>();
  FlowExtra& x = *f->extra;
  if (x.ooo_bytes[dir] + p.payload_len > config_.max_ooo_bytes) {
    stats_.ooo_dropped += p.payload_len;
    return;
  }
  auto [slot, inserted] = x.ooo[dir].try_emplace(static_cast<uint64_t>(rel));
  if (!inserted && slot->second.size() >= p.payload_len) return;
  x.ooo_bytes[dir] += p.payload_len - slot->second.size();
  slot->second.assign(reinterpret_cast<const char*>(p.payload), p.payload_len);
}

// Zeek records 'T', 'W' (and 'C', 'G') again at 1, 10, 100, ... occurrences.
bool FlowTable::RepeatHistory(Flow* f, int dir, char letter, uint64_t count, uint8_t* logged) {
  uint64_t threshold = 1;
  for (int i = 0; i < *logged; ++i) threshold *= 10;
  if (count < threshold) return false;
  ++*logged;
  f->history_seen &= ~(1u << (LetterIndex(letter) * 2 + dir));
  AddHistory(f, dir, letter);
  return true;
}

void FlowTable::FlowWeird(Flow* f, const char* name) {
  ++weirds_[name];
  if (!f->extra) f->extra = std::make_unique<FlowExtra>();
  auto& w = f->extra->weirds;
  if (std::find(w.begin(), w.end(), name) == w.end()) w.push_back(name);
}

// Compares `data` with the bytes kept for [rel, rel+len) of direction `dir`.
// Only possible while that direction has no gap and the range was kept;
// otherwise the bytes are given the benefit of the doubt.
bool FlowTable::SameAsDelivered(const Flow* f, int dir, uint64_t rel, const uint8_t* data,
                                uint64_t len) const {
  if (!f->extra || f->extra->missed[dir] > 0) return true;
  const Payload& payload = f->extra->payload;
  uint64_t pos = 0;  // offset of the chunk in this direction's stream
  for (size_t i = 0; i < payload.chunk_count(); ++i) {
    const Payload::Chunk ch = payload.chunk(i);
    if (ch.dir != dir) continue;
    const uint64_t chunk_end = pos + ch.len;
    if (rel < chunk_end && rel + len > pos) {
      const uint64_t from = std::max(rel, pos), to = std::min(rel + len, chunk_end);
      const uint8_t* expected = data + (from - rel);
      bool same = true;
      payload.ForEachPiece(ch.offset + (from - pos), to - from, [&](const uint8_t* p, size_t n) {
        same = same && std::memcmp(p, expected, n) == 0;
        expected += n;
      });
      if (!same) return false;
    }
    pos = chunk_end;
    if (pos >= rel + len) break;
  }
  return true;
}

void FlowTable::BadChecksum(const DecodedPacket& p) {
  bool from_a;
  auto it = flows_.find(MakeFlowKey(p, &from_a));
  if (it == flows_.end()) return;
  Flow* f = *it;
  const int dir = from_a == f->orig_is_a ? 0 : 1;
  if (p.ip_proto == 6) AddHistory(f, dir, 'C');
  FlowWeird(f, p.ip_proto == 6 ? "bad_tcp_checksum" : "bad_udp_checksum");
}

void FlowTable::AddMissed(Flow* f, int dir, uint64_t n) {
  if (!f->extra) f->extra = std::make_unique<FlowExtra>();
  f->extra->missed[dir] += n;
}

void FlowTable::Deliver(Flow* f, int dir, int64_t ts_us, const uint8_t* data, uint64_t len,
                        uint64_t gap, bool merge, const SharedBytesRef* shared) {
  if (!f->extra) f->extra = std::make_unique<FlowExtra>();
  FlowExtra& x = *f->extra;
  const uint64_t room =
      x.kept[dir] < config_.payload_depth ? config_.payload_depth - x.kept[dir] : 0;
  const uint64_t keep = std::min(len, room);
  if (keep < len) {
    x.truncated[dir] += len - keep;
    stats_.payload_truncated += len - keep;
  }
  if (keep == 0) return;
  x.kept[dir] += keep;
  x.payload.Append(dir, ts_us, data, keep, gap, merge, shared);
}

void FlowTable::FlushReassembly(Flow* f, int dir) {
  TcpDir& e = f->tcp[dir];
  if (f->extra) {
    auto& ooo = f->extra->ooo[dir];
    for (auto& [rel, data] : ooo) {
      const uint64_t seg_end = rel + data.size();
      if (seg_end <= e.next) continue;
      uint64_t gap = 0, skip = 0;
      if (rel > e.next) {
        gap = rel - e.next;
      } else {
        skip = e.next - rel;
      }
      if (gap > 0) AddMissed(f, dir, gap);
      if (gap > 0) AddHistory(f, dir, 'G');
      Deliver(f, dir, f->last_ts, reinterpret_cast<const uint8_t*>(data.data()) + skip,
              data.size() - skip, gap, false);
      e.next = seg_end;
    }
    ooo.clear();
    f->extra->ooo_bytes[dir] = 0;
  }
  // Data the sequence numbers cover but that never arrived (dropped segments).
  if (e.max_end > e.next) {
    AddMissed(f, dir, e.max_end - e.next);
    AddHistory(f, dir, 'G');
    e.next = e.max_end;
  }
}

const char* FlowTable::ConnState(const Flow& f, uint8_t proto) {
  if (proto == 17) {
    const bool o = f.dir[0].pkts > 0, r = f.dir[1].pkts > 0;
    if (o) return r ? "SF" : "S0";
    return r ? "SHR" : "OTH";
  }
  if (proto != 6) return "OTH";
  // Zeek's conn_state() from base/protocols/conn/main.zeek.
  const TcpState os = f.tcp[0].state, rs = f.tcp[1].state;
  const bool o_inactive = os == kInactive || os == kPartial;
  const bool r_inactive = rs == kInactive || rs == kPartial;
  if (rs == kReset) {
    if (os == kSynSent || os == kSynAckSent ||
        (os == kReset && f.tcp[0].max_end == 0 && f.tcp[1].max_end == 0)) {
      return "REJ";
    }
    return o_inactive ? "RSTRH" : "RSTR";
  }
  if (os == kReset) {
    if (r_inactive) {
      static const std::regex kS0Reset("^\\^?S[^HAFGIQ]*R.*");
      if (std::regex_match(std::string(f.history, f.history_len), kS0Reset)) return "RSTOS0";
      return "OTH";
    }
    return "RSTO";
  }
  if (rs == kClosed && os == kClosed) return "SF";
  if (os == kClosed) return r_inactive ? "SH" : "S2";
  if (rs == kClosed) return o_inactive ? "SHR" : "S3";
  if (os == kSynSent && rs == kInactive) return "S0";
  if (os == kEstablished && rs == kEstablished) return "S1";
  return "OTH";
}

void FlowTable::Export(Flow* f, gourmet::v1::EndReason reason) {
  const FlowKey key = f->key;
  const uint8_t proto = key.proto;
  if (proto == 6) {
    for (int d = 0; d < 2; ++d) {
      FlushReassembly(f, d);
      f->dir[d].bytes = f->tcp[d].max_end;
      stats_.tcp_bytes += f->tcp[d].max_end;
      if (f->extra) stats_.tcp_missed_bytes += f->extra->missed[d];
    }
  }
  const int alen = key.ip_version == 4 ? 4 : 16;
  const uint8_t* orig_addr = f->orig_is_a ? key.addr_a : key.addr_b;
  const uint8_t* resp_addr = f->orig_is_a ? key.addr_b : key.addr_a;
  const uint16_t orig_port = f->orig_is_a ? key.port_a : key.port_b;
  const uint16_t resp_port = f->orig_is_a ? key.port_b : key.port_a;

  FinishedConnection out;
  gourmet::v1::Connection& c = out.record;
  c.set_uid(MakeUid(config_.uid_seed, config_.worker, f->serial));
  c.set_community_id(CommunityId(config_.community_id_seed, proto, orig_addr, resp_addr, alen,
                                 orig_port, resp_port));
  c.mutable_orig()->set_addr(orig_addr, alen);
  c.mutable_orig()->set_port(orig_port);
  c.mutable_resp()->set_addr(resp_addr, alen);
  c.mutable_resp()->set_port(resp_port);
  c.set_ip_proto(proto);
  c.set_ts_us(f->first_ts);
  c.set_last_ts_us(f->last_ts);
  for (int d = 0; d < 2; ++d) {
    gourmet::v1::DirectionStats* s = d == 0 ? c.mutable_orig_stats() : c.mutable_resp_stats();
    s->set_pkts(f->dir[d].pkts);
    s->set_ip_bytes(f->dir[d].ip_bytes);
    s->set_bytes(f->dir[d].bytes);
    if (f->extra) {
      s->set_missed_bytes(f->extra->missed[d]);
      s->set_truncated_bytes(f->extra->truncated[d]);
    }
  }
  c.set_conn_state(ConnState(*f, proto));
  c.set_history(std::string(f->history, f->history_len));
  if (key.vlan >> 16) c.add_vlan((key.vlan >> 16) - 1);
  if (key.vlan & 0xffff) c.add_vlan((key.vlan & 0xffff) - 1);
  c.set_sensor(config_.sensor);
  c.set_end_reason(reason);
  if (f->extra) {
    out.payload = std::move(f->extra->payload);
    for (const char* w : f->extra->weirds) c.add_weirds(w);
    if (!f->extra->tunnel_parent.empty()) c.add_tunnel_parents(f->extra->tunnel_parent);
  }
  Unlink(f);
  flows_.erase(f);
  pool_.Delete(f);
  ++stats_.flows_exported;
  on_export_(std::move(out));
}

void FlowTable::Expire(int64_t now_us) {
  last_sweep_us_ = now_us;
  for (int c = 0; c < kNumClasses; ++c) {
    const int64_t timeout = ToMicros(Timeout(static_cast<TimeoutClass>(c)));
    while (lists_[c].head && lists_[c].head->last_ts + timeout <= now_us) {
      Export(lists_[c].head, c == kClosing ? gourmet::v1::END_FIN : gourmet::v1::END_INACTIVITY);
    }
  }
}

void FlowTable::EvictOne() {
  Flow* victim = nullptr;
  for (auto& l : lists_) {
    if (l.head && (!victim || l.head->last_ts < victim->last_ts)) victim = l.head;
  }
  if (!victim) return;
  ++stats_.flows_evicted;
  Export(victim, gourmet::v1::END_EVICTED);
}

void FlowTable::FlushAll() {
  // Oldest activity first, so the order is deterministic.
  for (;;) {
    Flow* oldest = nullptr;
    for (auto& l : lists_) {
      if (l.head && (!oldest || l.head->last_ts < oldest->last_ts)) oldest = l.head;
    }
    if (!oldest) break;
    Export(oldest, gourmet::v1::END_INPUT);
  }
}

}  // namespace gourmet::capture
