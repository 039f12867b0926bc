#include "capture-agent/afpacket_source.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "capture-agent/decoder.h"

namespace gourmet::capture {
namespace {

absl::Status Errno(const std::string& what) {
  const int e = errno;
  if (e == EPERM || e == EACCES) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": needs CAP_NET_RAW (run as root or grant the capability)"));
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(e)));
}

// Compiles a BPF expression for link type `dlt` with libpcap, on a dead handle.
absl::Status AttachFilter(int fd, const std::string& expr, int dlt, int snaplen) {
  pcap_t* dead = pcap_open_dead(dlt, snaplen);
  if (!dead) return absl::InternalError("pcap_open_dead failed");
  bpf_program prog;
  if (pcap_compile(dead, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    absl::Status st = absl::InvalidArgumentError(
        absl::StrCat("bad BPF filter '", expr, "': ", pcap_geterr(dead)));
    pcap_close(dead);
    return st;
  }
  sock_fprog fprog{static_cast<unsigned short>(prog.bf_len),
                   reinterpret_cast<sock_filter*>(prog.bf_insns)};
  const int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog));
  pcap_freecode(&prog);
  pcap_close(dead);
  if (rc != 0) return Errno("SO_ATTACH_FILTER");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AfPacketSource>> AfPacketSource::Open(const LiveConfig& c,
                                                                     int fanout_group) {
  if (c.interface == "any") {
    return absl::InvalidArgumentError(
        "AF_PACKET capture needs one interface; use --source pcap for 'any'");
  }
  absl::Status st = CheckInterface(c.interface);
  if (!st.ok()) return st;
  std::unique_ptr<AfPacketSource> s(new AfPacketSource());
  s->poll_ms_ = c.poll_ms;
  s->fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (s->fd_ < 0) return Errno(absl::StrCat("capturing on '", c.interface, "'"));
  const int ifindex = if_nametoindex(c.interface.c_str());
  if (ifindex == 0)
    return absl::NotFoundError(absl::StrCat("interface '", c.interface, "' does not exist"));

  // Link type from the hardware type: Ethernet-like devices carry a MAC
  // header, tunnels and tun devices carry bare IP.
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, c.interface.data(), c.interface.size());
  if (ioctl(s->fd_, SIOCGIFHWADDR, &ifr) == 0) {
    switch (ifr.ifr_hwaddr.sa_family) {
      case ARPHRD_ETHER:
      case ARPHRD_LOOPBACK:
        s->datalink_ = kLinkEthernet;
        break;
      case ARPHRD_NONE:
      case ARPHRD_TUNNEL:
      case ARPHRD_TUNNEL6:
      case ARPHRD_IPGRE:
        s->datalink_ = kLinkRaw;
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("interface '", c.interface, "': hardware type ", ifr.ifr_hwaddr.sa_family,
                         " is not supported by AF_PACKET capture"));
    }
  }
  int version = TPACKET_V3;
  if (setsockopt(s->fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0)
    return Errno("PACKET_VERSION");
  if (!c.bpf.empty()) {
    st = AttachFilter(s->fd_, c.bpf, s->datalink_, c.snaplen);
    if (!st.ok()) return st;
  }
  tpacket_req3 req{};
  req.tp_block_size = c.block_size;
  req.tp_block_nr = c.block_count;
  req.tp_frame_size = 2048;  // V3 packs frames of any size; this only has to divide the block
  req.tp_frame_nr = c.block_size / req.tp_frame_size * c.block_count;
  req.tp_retire_blk_tov = c.block_timeout_ms;
  req.tp_feature_req_word = TP_FT_REQ_FILL_RXHASH;
  if (setsockopt(s->fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
    return Errno("PACKET_RX_RING");
  s->block_size_ = c.block_size;
  s->block_count_ = c.block_count;
  s->ring_size_ = static_cast<size_t>(c.block_size) * c.block_count;
  void* ring =
      mmap(nullptr, s->ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s->fd_, 0);
  if (ring == MAP_FAILED) return Errno("mmap of the packet ring");
  s->ring_ = static_cast<uint8_t*>(ring);

  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = ifindex;
  if (bind(s->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Errno("bind");
  if (c.promiscuous) {
    packet_mreq mr{};
    mr.mr_ifindex = ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(s->fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "promiscuous mode on '", c.interface, "' needs CAP_NET_ADMIN: ", std::strerror(errno)));
    }
  }
  if (fanout_group >= 0) {
    const uint32_t arg =
        (fanout_group & 0xffff) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    if (setsockopt(s->fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0)
      return Errno("PACKET_FANOUT");
  }
  return s;
}

AfPacketSource::~AfPacketSource() {
  if (ring_) munmap(ring_, ring_size_);
  if (fd_ >= 0) close(fd_);
}

void AfPacketSource::ReleaseBlock() {
  if (!current_) return;
  __atomic_store_n(&current_->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  current_ = nullptr;
  block_ = (block_ + 1) % block_count_;
}

PacketSource::Next AfPacketSource::Read(RawPacket* out) {
  for (;;) {
    if (current_ && left_ == 0) ReleaseBlock();  // the previous packet was the block's last
    if (!current_) {
      auto* desc =
          reinterpret_cast<tpacket_block_desc*>(ring_ + static_cast<size_t>(block_) * block_size_);
      if (!(__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
        pollfd pfd{fd_, POLLIN | POLLERR, 0};
        const int rc = poll(&pfd, 1, poll_ms_);
        if (rc < 0 && errno != EINTR) {
          error_ = absl::StrCat("poll: ", std::strerror(errno));
          return Next::kError;
        }
        if (!(__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
          return Next::kTimeout;
        }
      }
      current_ = desc;
      left_ = desc->hdr.bh1.num_pkts;
      next_ = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(desc) +
                                              desc->hdr.bh1.offset_to_first_pkt);
      continue;
    }
    tpacket3_hdr* h = next_;
    --left_;
    next_ = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(h) + h->tp_next_offset);
    out->ts_us = static_cast<int64_t>(h->tp_sec) * 1000000 + h->tp_nsec / 1000;
    out->data = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
    out->caplen = h->tp_snaplen;
    out->wirelen = h->tp_len;
    ++stats_.received;
    // The kernel strips a VLAN tag into metadata; put it back where the
    // decoder expects it (rare: most NICs only do this when asked to).
    if ((h->tp_status & TP_STATUS_VLAN_VALID) && datalink_ == kLinkEthernet && out->caplen >= 12) {
      scratch_.assign(out->data, out->data + 12);
      const uint16_t tpid =
          (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : 0x8100;
      const uint16_t tci = h->hv1.tp_vlan_tci;
      const uint8_t tag[4] = {static_cast<uint8_t>(tpid >> 8), static_cast<uint8_t>(tpid),
                              static_cast<uint8_t>(tci >> 8), static_cast<uint8_t>(tci)};
      scratch_.insert(scratch_.end(), tag, tag + 4);
      scratch_.insert(scratch_.end(), out->data + 12, out->data + out->caplen);
      out->data = scratch_.data();
      out->caplen += 4;
      out->wirelen += 4;
    }
    return Next::kPacket;
  }
}

SourceStats AfPacketSource::stats() {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof(st);
  // The kernel resets its counters on every read: accumulate.
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    stats_.dropped += st.tp_drops;
  }
  return stats_;
}

}  // namespace gourmet::capture
