// IPv4 and IPv6 fragment reassembly, per worker thread.
//
// Fragments are kept per datagram (addresses, protocol, id) in a buffer with
// a coverage map of 8-byte blocks. The first data seen for a range wins; an
// overlap with different bytes is a `fragment_inconsistency`, one with the
// same bytes a `fragment_overlap`. Memory is capped across all datagrams
// (the oldest incomplete one is dropped to make room) and incomplete
// datagrams time out by packet time; both are counted.
#pragma once

#include <bitset>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "capture-agent/packet.h"

namespace gourmet::capture {

struct DefragConfig {
  size_t max_bytes = 32 << 20;                 // all datagrams being reassembled
  absl::Duration timeout = absl::Seconds(30);  // an incomplete datagram is dropped after this
};

struct DefragStats {
  uint64_t fragments = 0;
  uint64_t datagrams = 0;  // reassembled
  uint64_t timed_out = 0;  // incomplete datagrams dropped by timeout
  uint64_t evicted = 0;    // incomplete datagrams dropped by the memory cap
};

class Defragmenter {
 public:
  explicit Defragmenter(DefragConfig config) : config_(config) {}

  enum class Result { kIncomplete, kComplete, kWeird };

  // Adds the fragment described by `p.frag` (p decoded to kFragment). On
  // kComplete, `*datagram` is the reassembled IP packet (header + payload),
  // valid until the next call. `*weird` may be set on any result.
  Result Add(const DecodedPacket& p, std::string_view* datagram, const char** weird);

  const DefragStats& stats() const { return stats_; }
  // The first anomaly seen on the datagram Add() last completed, or nullptr.
  const char* completed_weird() const { return completed_weird_; }
  size_t pending() const { return datagrams_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t kMaxDatagram = 65535 + 40;
  static constexpr size_t kBlocks = (kMaxDatagram + 7) / 8;

  struct Key {
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t id;
    uint8_t proto;
    uint8_t version;
    bool operator<(const Key& o) const;
  };
  struct Datagram {
    std::string header;  // the IP header of the first fragment
    std::string data;    // payload, growing as fragments arrive
    std::bitset<kBlocks> have;
    int64_t first_ts = 0;
    uint32_t total = 0;  // payload length, known once the last fragment arrived
    bool has_last = false;
    bool has_first = false;
    const char* weird = nullptr;
    std::list<Key>::iterator age;  // position in age order
  };

  void Drop(std::map<Key, Datagram>::iterator it);
  void Expire(int64_t now_us);
  bool Complete(const Datagram& d) const;

  DefragConfig config_;
  std::map<Key, Datagram> datagrams_;
  std::list<Key> by_age_;  // oldest first
  size_t bytes_ = 0;
  std::string out_;  // the last reassembled datagram
  const char* completed_weird_ = nullptr;
  DefragStats stats_;
};

}  // namespace gourmet::capture
