// Offline packet source: a pcap or pcapng file, optionally through a BPF
// filter. Classic pcap files are read through a read-only mmap of the whole
// file, handing out pointers into the mapping; anything else libpcap can
// open (pcapng, old variants) is read with libpcap. A mapped file must not
// shrink while it is read: touching a page past its new end is SIGBUS.
#pragma once

#include <pcap/pcap.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "capture-agent/packet_source.h"
#include "capture-agent/payload.h"

namespace gourmet::capture {

struct PcapFileOptions {
  // false reads every file with libpcap (differential tests, benchmarks).
  bool mmap = true;
  // Drop pages read long ago from the page tables as the reader moves on,
  // so the resident set does not grow by the size of the file. Not worth it
  // when payload is kept by reference into the mapping: sending it maps the
  // pages back (measured 4 % slower end to end).
  bool release_behind = true;
};

class PcapFileSource : public PacketSource {
 public:
  // Opens `path`; `bpf` (may be empty) is compiled and applied.
  static absl::StatusOr<std::unique_ptr<PcapFileSource>> Open(const std::string& path,
                                                              const std::string& bpf,
                                                              const PcapFileOptions& options = {});
  ~PcapFileSource() override;

  // The next packet; on kError, error() says what went wrong (e.g. truncation).
  Next Read(RawPacket* out) override;
  int datalink() const override { return datalink_; }
  double progress() const override;
  const std::string& error() const override { return error_; }
  const std::string& path() const { return path_; }
  // Whether the file is read through mmap rather than libpcap.
  bool mapped() const { return map_ != nullptr; }

 private:
  PcapFileSource() = default;
  // Maps the file if it is a classic pcap whose packets libpcap would hand
  // out unchanged; otherwise leaves it to libpcap.
  void MapIfClassic();
  Next ReadMapped(RawPacket* out);
  void ReleaseBehind();
  Next ReadLibpcap(RawPacket* out);
  Next Fail(const std::string& what);

  pcap_t* handle_ = nullptr;  // the libpcap path; closed once the file is mapped
  int datalink_ = 0;
  uint64_t file_size_ = 0;
  std::string path_;
  std::string error_;

  // The mmap path.
  const uint8_t* map_ = nullptr;  // file_size_ bytes
  SharedBytesRef mapping_;        // owns the mapping
  size_t pos_ = 0;                // the next record header
  size_t prefetched_ = 0;         // prefetched up to here
  bool release_behind_ = true;
  size_t unmapped_ = 0;      // pages before this were released (ReleaseBehind)
  bool swapped_ = false;     // written in the other byte order
  bool nanos_ = false;       // nanosecond timestamps
  uint32_t snaplen_ = 0;     // libpcap's, after its adjustments
  bpf_program filter_ = {};  // no instructions without a filter
};

}  // namespace gourmet::capture
