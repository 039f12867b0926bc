// Where packets come from: a pcap file, libpcap live capture, or an
// AF_PACKET TPACKET_V3 ring. A source hands out one packet at a time, valid
// until the next Read() (or longer, see RawPacket::shared), parsed in place
// where the source allows it.
#pragma once

#include <cstdint>
#include <string>

#include "capture-agent/packet.h"

namespace gourmet::capture {

struct SourceStats {
  uint64_t received = 0;    // packets the kernel delivered to us
  uint64_t dropped = 0;     // packets the kernel dropped for lack of buffer space
  uint64_t if_dropped = 0;  // packets the interface or driver dropped (libpcap only)
};

class PacketSource {
 public:
  enum class Next { kPacket, kTimeout, kEnd, kError };

  virtual ~PacketSource() = default;
  // The next packet (kPacket), nothing within the source's poll interval
  // (kTimeout, live sources only), the end of a file, or an error (error()).
  virtual Next Read(RawPacket* out) = 0;
  virtual int datalink() const = 0;
  // Share of the input consumed, 0..1 (files); live sources return 0.
  virtual double progress() const { return 0; }
  virtual bool live() const { return false; }
  // Cumulative kernel counters (live sources).
  virtual SourceStats stats() { return {}; }
  virtual const std::string& error() const = 0;
};

}  // namespace gourmet::capture
