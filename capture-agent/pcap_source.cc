#include "capture-agent/pcap_source.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "capture-agent/decoder.h"

namespace gourmet::capture {

absl::StatusOr<std::unique_ptr<PcapFileSource>> PcapFileSource::Open(const std::string& path,
                                                                     const std::string& bpf) {
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
  if (!bpf.empty()) {
    bpf_program prog;
    if (pcap_compile(src->handle_, &prog, bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad BPF filter '", bpf, "': ", pcap_geterr(src->handle_)));
    }
    const int rc = pcap_setfilter(src->handle_, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot apply BPF filter: ", pcap_geterr(src->handle_)));
    }
  }
  return src;
}

PcapFileSource::~PcapFileSource() {
  if (handle_) pcap_close(handle_);
}

PacketSource::Next PcapFileSource::Read(RawPacket* out) {
  pcap_pkthdr* hdr;
  const u_char* data;
  const int rc = pcap_next_ex(handle_, &hdr, &data);
  if (rc == 1) {
    out->ts_us = static_cast<int64_t>(hdr->ts.tv_sec) * 1000000 + hdr->ts.tv_usec;
    out->data = data;
    out->caplen = hdr->caplen;
    out->wirelen = hdr->len;
    return Next::kPacket;
  }
  if (rc == PCAP_ERROR_BREAK) return Next::kEnd;
  error_ = absl::StrCat("'", path_, "': ", pcap_geterr(handle_));
  return Next::kError;
}

double PcapFileSource::progress() const {
  if (file_size_ == 0) return 1.0;
  FILE* f = pcap_file(handle_);
  if (!f) return 0.0;
  const long pos = ftell(f);
  return pos <= 0 ? 0.0 : std::min(1.0, static_cast<double>(pos) / file_size_);
}

}  // namespace gourmet::capture
