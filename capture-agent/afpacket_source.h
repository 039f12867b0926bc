// AF_PACKET capture through a TPACKET_V3 memory-mapped ring. Several sources
// on one interface form a PACKET_FANOUT group (hash mode, with the kernel
// defragmenting first), one per worker thread, so each worker sees whole
// flows. Packets are parsed in place in the ring; each block goes back to the
// kernel as soon as its last packet has been handled.
#pragma once

#include <linux/if_packet.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "capture-agent/live_pcap_source.h"
#include "capture-agent/packet_source.h"

namespace gourmet::capture {

class AfPacketSource : public PacketSource {
 public:
  // Opens one ring on `config.interface`; `fanout_group` >= 0 joins that
  // fanout group (every worker's source passes the same id).
  static absl::StatusOr<std::unique_ptr<AfPacketSource>> Open(const LiveConfig& config,
                                                              int fanout_group);
  ~AfPacketSource() override;

  Next Read(RawPacket* out) override;
  int datalink() const override { return datalink_; }
  bool live() const override { return true; }
  SourceStats stats() override;
  const std::string& error() const override { return error_; }

 private:
  AfPacketSource() = default;
  void ReleaseBlock();

  int fd_ = -1;
  uint8_t* ring_ = nullptr;
  size_t ring_size_ = 0;
  uint32_t block_size_ = 0;
  uint32_t block_count_ = 0;
  int poll_ms_ = 200;
  int datalink_ = 1;
  uint32_t block_ = 0;                     // current block index
  tpacket_block_desc* current_ = nullptr;  // the block being read, or null
  uint32_t left_ = 0;                      // packets left in it
  tpacket3_hdr* next_ = nullptr;           // next packet in it
  std::vector<uint8_t> scratch_;           // a frame with its VLAN tag put back
  SourceStats stats_;
  std::string error_;
};

}  // namespace gourmet::capture
