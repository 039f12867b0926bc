// Offline packet source: a pcap or pcapng file read with libpcap, optionally
// through a BPF filter.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "capture-agent/packet.h"

namespace gourmet::capture {

class PcapFileSource {
 public:
  enum class Next { kPacket, kEnd, kError };

  // Opens `path`; `bpf` (may be empty) is compiled and applied.
  static absl::StatusOr<std::unique_ptr<PcapFileSource>> Open(const std::string& path,
                                                              const std::string& bpf);
  ~PcapFileSource();

  // The next packet; on kError, error() says what went wrong (e.g. truncation).
  Next Read(RawPacket* out);
  int datalink() const { return datalink_; }
  // Share of the file consumed, 0..1.
  double progress() const;
  const std::string& error() const { return error_; }
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
