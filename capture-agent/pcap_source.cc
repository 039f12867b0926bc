#include "capture-agent/pcap_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "capture-agent/decoder.h"

namespace gourmet::capture {
namespace {

constexpr uint32_t kMagicMicros = 0xa1b2c3d4;
constexpr uint32_t kMagicNanos = 0xa1b23c4d;
constexpr size_t kFileHeaderSize = 24;
constexpr size_t kRecordHeaderSize = 16;
// libpcap's bound on a record's captured length (MAXIMUM_SNAPLEN) for every
// link type Gourmet decodes; a larger one means a damaged file.
constexpr uint32_t kMaxCaplen = 262144;
// How far ahead of the reader the mapping is prefetched. Measured on a 1 GB
// file with a reader that touches only packet headers: 2 KiB reads 1.4x (page
// cache in 4 KiB pages) to 4x (in large folios) faster than no prefetch; much
// farther ahead, prefetches land on pages not mapped in yet and are dropped.
constexpr size_t kPrefetchDistance = 2048;
// How much of the file stays mapped behind the reader (see ReleaseBehind).
constexpr size_t kKeepMappedBehind = 32 << 20;

uint32_t Load32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped ? __builtin_bswap32(v) : v;
}

uint16_t Load16(const uint8_t* p, bool swapped) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return swapped ? __builtin_bswap16(v) : v;
}

// Whether `h`, a file header, starts a classic pcap file whose records
// libpcap hands out as they are: either magic, either byte order, version
// 2.4. Older versions (some with caplen and len swapped) and the Kuznetzov
// variant (longer record headers) keep libpcap's handling, as do byte-swapped
// Linux cooked captures, in which libpcap rewrites SocketCAN ids.
bool IsPlainClassicPcap(const uint8_t* h, int dlt, bool* swapped, bool* nanos) {
  uint32_t magic = Load32(h, false);
  *swapped = magic == __builtin_bswap32(kMagicMicros) || magic == __builtin_bswap32(kMagicNanos);
  if (*swapped) magic = __builtin_bswap32(magic);
  if (magic != kMagicMicros && magic != kMagicNanos) return false;
  *nanos = magic == kMagicNanos;
  if (Load16(h + 4, *swapped) != 2 || Load16(h + 6, *swapped) != 4) return false;
  return !(*swapped && (dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PcapFileSource>> PcapFileSource::Open(
    const std::string& path, const std::string& bpf, const PcapFileOptions& options) {
  std::unique_ptr<PcapFileSource> src(new PcapFileSource());
  src->path_ = path;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read '", path, "': no such file"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read '", path, "': not a regular file"));
  }
  src->file_size_ = st.st_size;
  // libpcap opens every file, mapped or not: it validates the header, maps
  // the link type and snaplen as it does for its own reads, and compiles
  // the filter.
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  src->handle_ =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (!src->handle_) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", path, "' as pcap or pcapng: ", errbuf));
  }
  src->datalink_ = pcap_datalink(src->handle_);
  if (!IsSupportedLinkType(src->datalink_)) {
    const char* name = pcap_datalink_val_to_name(src->datalink_);
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': link type ", src->datalink_, " (",
                                                   name ? name : "unknown", ") is not supported"));
  }
  if (!bpf.empty() &&
      pcap_compile(src->handle_, &src->filter_, bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad BPF filter '", bpf, "': ", pcap_geterr(src->handle_)));
  }
  src->release_behind_ = options.release_behind;
  if (options.mmap) src->MapIfClassic();
  if (src->mapped()) {
    src->snaplen_ = pcap_snapshot(src->handle_);
    pcap_close(src->handle_);
    src->handle_ = nullptr;
  } else if (!bpf.empty() && pcap_setfilter(src->handle_, &src->filter_) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot apply BPF filter: ", pcap_geterr(src->handle_)));
  }
  return src;
}

// Any failure here leaves the file to libpcap, which reads it just as well.
void PcapFileSource::MapIfClassic() {
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  uint8_t header[kFileHeaderSize];
  struct stat st;
  void* map = MAP_FAILED;
  if (pread(fd, header, sizeof header, 0) == sizeof header &&
      IsPlainClassicPcap(header, datalink_, &swapped_, &nanos_) && fstat(fd, &st) == 0) {
    file_size_ = st.st_size;
    map = mmap(nullptr, file_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  close(fd);
  if (map == MAP_FAILED) return;
  // No madvise and no MAP_POPULATE: measured on Linux 6.18 with a 1 GB file,
  // none made a cached read faster, MADV_SEQUENTIAL made a cold one 2.5x
  // slower, and populating costs more up front than the faults it saves.
  map_ = static_cast<const uint8_t*>(map);
  pos_ = kFileHeaderSize;
  // Connections may keep payload by reference into the mapping (and send it
  // from there), so it is unmapped when the last of them lets go.
  mapping_ = SharedBytesRef(new SharedBytes{map_, file_size_}, [](const SharedBytes* m) {
    munmap(const_cast<uint8_t*>(m->data), m->size);
    delete m;
  });
}

PcapFileSource::~PcapFileSource() {
  if (handle_) pcap_close(handle_);
  pcap_freecode(&filter_);
}

PacketSource::Next PcapFileSource::Read(RawPacket* out) {
  return mapped() ? ReadMapped(out) : ReadLibpcap(out);
}

// The checks of libpcap's reader of these files (sf-pcap.c), in its order,
// so both paths deliver the same packets and stop at the same record.
PacketSource::Next PcapFileSource::ReadMapped(RawPacket* out) {
  while (true) {
    const size_t left = file_size_ - pos_;
    if (left == 0) return Next::kEnd;
    if (left < kRecordHeaderSize) {
      return Fail(absl::StrCat("truncated dump file; tried to read ", kRecordHeaderSize,
                               " header bytes, only got ", left));
    }
    const uint8_t* h = map_ + pos_;
    const uint32_t caplen = Load32(h + 8, swapped_);
    if (caplen > kMaxCaplen) {
      return Fail(absl::StrCat("invalid packet capture length ", caplen, " in the record at byte ",
                               pos_, ", bigger than the maximum of ", kMaxCaplen));
    }
    if (caplen > left - kRecordHeaderSize) {
      return Fail(absl::StrCat("truncated dump file; tried to read ", caplen,
                               " captured bytes, only got ", left - kRecordHeaderSize));
    }
    pos_ += kRecordHeaderSize + caplen;
    if (release_behind_ && pos_ - unmapped_ >= 2 * kKeepMappedBehind) ReleaseBehind();
    // Each record header says where the next one is, so a plain walk waits
    // on memory at every record; prefetching a fixed distance ahead makes it
    // a stream.
    const size_t ahead = std::min(pos_ + kPrefetchDistance, file_size_);
    for (prefetched_ = std::max(prefetched_, pos_); prefetched_ < ahead; prefetched_ += 64) {
      __builtin_prefetch(map_ + prefetched_);
    }
    // Signed, as libpcap 1.10 reads them.
    const int32_t sec = static_cast<int32_t>(Load32(h, swapped_));
    int32_t frac = static_cast<int32_t>(Load32(h + 4, swapped_));
    if (nanos_) frac /= 1000;
    out->ts_us = int64_t{sec} * 1000000 + frac;
    out->data = h + kRecordHeaderSize;
    out->shared = &mapping_;
    // libpcap cuts a record longer than the file's snaplen to the snaplen.
    out->caplen = std::min(caplen, snaplen_);
    out->wirelen = Load32(h + 12, swapped_);
    if (!filter_.bf_insns) return Next::kPacket;
    pcap_pkthdr hdr = {};
    hdr.caplen = out->caplen;
    hdr.len = out->wirelen;
    if (pcap_offline_filter(&filter_, &hdr, out->data)) return Next::kPacket;
  }
}

// The pages read long ago leave our page tables (they stay in the page
// cache), so the agent's resident set does not grow by the size of the file
// as it reads. A pointer into them stays valid: touching it again maps the
// page back (sending payload kept by reference does; dropping those again
// measured slower than leaving them).
void PcapFileSource::ReleaseBehind() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t upto = (pos_ - kKeepMappedBehind) / page * page;
  if (upto <= unmapped_) return;
  madvise(const_cast<uint8_t*>(map_) + unmapped_, upto - unmapped_, MADV_DONTNEED);
  unmapped_ = upto;
}

PacketSource::Next PcapFileSource::ReadLibpcap(RawPacket* out) {
  pcap_pkthdr* hdr;
  const u_char* data;
  const int rc = pcap_next_ex(handle_, &hdr, &data);
  if (rc == 1) {
    out->ts_us = static_cast<int64_t>(hdr->ts.tv_sec) * 1000000 + hdr->ts.tv_usec;
    out->data = data;
    out->caplen = hdr->caplen;
    out->wirelen = hdr->len;
    out->shared = nullptr;  // libpcap reuses its buffer
    return Next::kPacket;
  }
  if (rc == PCAP_ERROR_BREAK) return Next::kEnd;
  return Fail(pcap_geterr(handle_));
}

PacketSource::Next PcapFileSource::Fail(const std::string& what) {
  error_ = absl::StrCat("'", path_, "': ", what);
  return Next::kError;
}

double PcapFileSource::progress() const {
  if (file_size_ == 0) return 1.0;
  if (mapped()) return static_cast<double>(pos_) / file_size_;
  FILE* f = pcap_file(handle_);
  if (!f) return 0.0;
  const long pos = ftell(f);
  return pos <= 0 ? 0.0 : std::min(1.0, static_cast<double>(pos) / file_size_);
}

}  // namespace gourmet::capture
