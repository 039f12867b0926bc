#include "capture-agent/live_pcap_source.h"

#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "capture-agent/decoder.h"

namespace gourmet::capture {

absl::Status CheckInterface(const std::string& interface) {
  if (interface == "any") return absl::OkStatus();
  if (interface.empty() || interface.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat("'", interface, "' is not an interface name"));
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, interface.data(), interface.size());
  const int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    if (err == ENODEV)
      return absl::NotFoundError(absl::StrCat("interface '", interface, "' does not exist"));
    return absl::InternalError(absl::StrCat("interface '", interface, "': ", std::strerror(err)));
  }
  if (!(ifr.ifr_flags & IFF_UP)) {
    return absl::FailedPreconditionError(absl::StrCat("interface '", interface, "' is down"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LivePcapSource>> LivePcapSource::Open(const LiveConfig& c) {
  absl::Status st = CheckInterface(c.interface);
  if (!st.ok()) return st;
  std::unique_ptr<LivePcapSource> src(new LivePcapSource());
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  src->handle_ = pcap_create(c.interface.c_str(), errbuf);
  if (!src->handle_)
    return absl::InvalidArgumentError(
        absl::StrCat("cannot capture on '", c.interface, "': ", errbuf));
  pcap_set_snaplen(src->handle_, c.snaplen);
  pcap_set_promisc(src->handle_, c.promiscuous ? 1 : 0);
  pcap_set_buffer_size(src->handle_, c.buffer_mib << 20);
  pcap_set_immediate_mode(src->handle_, c.immediate ? 1 : 0);
  pcap_set_timeout(src->handle_, c.poll_ms);
  pcap_set_tstamp_precision(src->handle_, PCAP_TSTAMP_PRECISION_MICRO);
  const int rc = pcap_activate(src->handle_);
  if (rc < 0) {
    std::string why = pcap_geterr(src->handle_);
    if (rc == PCAP_ERROR_PERM_DENIED) {
      return absl::PermissionDeniedError(
          absl::StrCat("capturing on '", c.interface,
                       "' needs CAP_NET_RAW (run as root or grant the capability): ", why));
    }
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
      return absl::NotFoundError(absl::StrCat("interface '", c.interface, "' does not exist"));
    }
    if (rc == PCAP_ERROR_IFACE_NOT_UP) {
      return absl::FailedPreconditionError(absl::StrCat("interface '", c.interface, "' is down"));
    }
    if (rc == PCAP_ERROR_PROMISC_PERM_DENIED) {
      return absl::PermissionDeniedError(
          absl::StrCat("promiscuous mode on '", c.interface, "' needs CAP_NET_ADMIN: ", why));
    }
    return absl::UnavailableError(absl::StrCat("cannot capture on '", c.interface, "': ", why));
  }
  src->datalink_ = pcap_datalink(src->handle_);
  if (!IsSupportedLinkType(src->datalink_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", c.interface, "': link type ", src->datalink_, " is not supported"));
  }
  if (!c.bpf.empty()) {
    bpf_program prog;
    if (pcap_compile(src->handle_, &prog, c.bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad BPF filter '", c.bpf, "': ", pcap_geterr(src->handle_)));
    }
    const int frc = pcap_setfilter(src->handle_, &prog);
    pcap_freecode(&prog);
    if (frc != 0)
      return absl::InvalidArgumentError(
          absl::StrCat("cannot apply BPF filter: ", pcap_geterr(src->handle_)));
  }
  // Non-blocking, with our own poll: with immediate mode libpcap may block
  // indefinitely on a quiet (or fully filtered) link, and shutdown must not wait.
  if (pcap_setnonblock(src->handle_, 1, errbuf) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot capture on '", c.interface, "': ", errbuf));
  }
  src->fd_ = pcap_get_selectable_fd(src->handle_);
  src->poll_ms_ = c.poll_ms;
  return src;
}

LivePcapSource::~LivePcapSource() {
  if (handle_) pcap_close(handle_);
}

PacketSource::Next LivePcapSource::Read(RawPacket* out) {
  pcap_pkthdr* hdr;
  const u_char* data;
  int rc = pcap_next_ex(handle_, &hdr, &data);
  if (rc == 0 && fd_ >= 0) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, poll_ms_) > 0) rc = pcap_next_ex(handle_, &hdr, &data);
  }
  if (rc == 1) {
    out->ts_us = static_cast<int64_t>(hdr->ts.tv_sec) * 1000000 + hdr->ts.tv_usec;
    out->data = data;
    out->caplen = hdr->caplen;
    out->wirelen = hdr->len;
    return Next::kPacket;
  }
  if (rc == 0) return Next::kTimeout;
  if (rc == PCAP_ERROR_BREAK) return Next::kEnd;
  error_ = absl::StrCat("capture failed: ", pcap_geterr(handle_));
  return Next::kError;
}

SourceStats LivePcapSource::stats() {
  pcap_stat ps{};
  SourceStats s;
  if (pcap_stats(handle_, &ps) == 0) {
    s.received = ps.ps_recv;
    s.dropped = ps.ps_drop;
    s.if_dropped = ps.ps_ifdrop;
  }
  return s;
}

}  // namespace gourmet::capture
