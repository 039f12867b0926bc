// Offline packet source: a pcap or pcapng file read with libpcap, optionally
// through a BPF filter.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "capture-agent/packet_source.h"

namespace gourmet::capture {

class PcapFileSource : public PacketSource {
 public:
  // Opens `path`; `bpf` (may be empty) is compiled and applied.
  static absl::StatusOr<std::unique_ptr<PcapFileSource>> Open(const std::string& path,
                                                              const std::string& bpf);
  ~PcapFileSource() override;

  // The next packet; on kError, error() says what went wrong (e.g. truncation).
  Next Read(RawPacket* out) override;
  int datalink() const override { return datalink_; }
  double progress() const override;
  const std::string& error() const override { return error_; }
  const std::string& path() const { return path_; }

 private:
  PcapFileSource() = default;
  pcap_t* handle_ = nullptr;
  int datalink_ = 0;
  uint64_t file_size_ = 0;
  std::string path_;
  std::string error_;
};

}  // namespace gourmet::capture
