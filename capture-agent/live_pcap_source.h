// Live capture with libpcap (any interface, including "any"), with BPF,
// snap length, buffer size and immediate mode.
#pragma once

#include <pcap/pcap.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "capture-agent/packet_source.h"

namespace gourmet::capture {

struct LiveConfig {
  std::string interface;
  std::string bpf;
  int snaplen = 262144;
  bool promiscuous = false;
  int buffer_mib = 64;    // kernel buffer (pcap) or ring size per worker (AF_PACKET)
  bool immediate = true;  // pcap: deliver packets as they arrive, no batching delay
  int poll_ms = 200;      // how often Read() returns kTimeout when the link is idle
  // AF_PACKET ring geometry.
  uint32_t block_size = 1 << 20;
  uint32_t block_count = 64;
  uint32_t block_timeout_ms = 10;
};

class LivePcapSource : public PacketSource {
 public:
  static absl::StatusOr<std::unique_ptr<LivePcapSource>> Open(const LiveConfig& config);
  ~LivePcapSource() override;

  Next Read(RawPacket* out) override;
  int datalink() const override { return datalink_; }
  bool live() const override { return true; }
  SourceStats stats() override;
  const std::string& error() const override { return error_; }

 private:
  LivePcapSource() = default;
  pcap_t* handle_ = nullptr;
  int fd_ = -1;
  int poll_ms_ = 200;
  int datalink_ = 0;
  std::string error_;
};

// Checks that `interface` exists and is up; the message says which is wrong.
absl::Status CheckInterface(const std::string& interface);

}  // namespace gourmet::capture
