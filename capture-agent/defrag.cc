#include "capture-agent/defrag.h"

#include <algorithm>
#include <cstring>

namespace gourmet::capture {

bool Defragmenter::Key::operator<(const Key& o) const {
  const int c = std::memcmp(this, &o, offsetof(Key, id));
  if (c != 0) return c < 0;
  return std::tie(id, proto, version) < std::tie(o.id, o.proto, o.version);
}

namespace {
template <typename D>
size_t Cost(const D& d) {
  return sizeof(D) + d.header.capacity() + d.data.capacity();
}
}  // namespace

void Defragmenter::Drop(std::map<Key, Datagram>::iterator it) {
  bytes_ -= Cost(it->second);
  by_age_.erase(it->second.age);
  datagrams_.erase(it);
}

void Defragmenter::Expire(int64_t now_us) {
  const int64_t timeout = absl::ToInt64Microseconds(config_.timeout);
  while (!by_age_.empty()) {
    auto it = datagrams_.find(by_age_.front());
    if (it->second.first_ts + timeout > now_us) break;
    ++stats_.timed_out;
    Drop(it);
  }
}

bool Defragmenter::Complete(const Datagram& d) const {
  if (!d.has_last || !d.has_first) return false;
  const size_t blocks = (d.total + 7) / 8;
  for (size_t i = 0; i < blocks; ++i) {
    if (!d.have[i]) return false;
  }
  return true;
}

Defragmenter::Result Defragmenter::Add(const DecodedPacket& p, std::string_view* datagram,
                                       const char** weird) {
  ++stats_.fragments;
  Expire(p.ts_us);
  const DecodedPacket::Fragment& f = p.frag;
  const uint64_t end = static_cast<uint64_t>(f.offset) + f.data_len;
  if ((p.ip_version == 4 ? end + f.header_len : end) > 65535) {
    *weird = "fragment_too_large";
    return Result::kWeird;
  }
  if (f.more && (f.data_len % 8) != 0) {
    *weird = "fragment_size_not_multiple_of_8";
    return Result::kWeird;
  }
  Key key;
  std::memset(&key, 0, sizeof(key));
  const int alen = p.ip_version == 4 ? 4 : 16;
  std::memcpy(key.src, p.src, alen);
  std::memcpy(key.dst, p.dst, alen);
  key.id = f.id;
  key.proto = f.next_header;
  key.version = p.ip_version;

  auto [it, inserted] = datagrams_.try_emplace(key);
  Datagram& d = it->second;
  if (inserted) {
    bytes_ += Cost(d);
    d.first_ts = p.ts_us;
    by_age_.push_back(key);
    d.age = std::prev(by_age_.end());
  }
  if (!f.more) {
    if (d.has_last && d.total != end) {
      *weird = "fragment_inconsistency";  // two different ends
      return Result::kWeird;
    }
    d.has_last = true;
    d.total = end;
  } else if (d.has_last && end > d.total) {
    *weird = "fragment_inconsistency";
    return Result::kWeird;
  }
  if (f.offset == 0 && !d.has_first) {
    d.has_first = true;
    const size_t before = Cost(d);
    d.header.assign(reinterpret_cast<const char*>(f.ip), f.header_len);
    bytes_ += Cost(d) - before;
  }
  if (d.data.size() < end) {
    const size_t before = Cost(d);
    d.data.resize(end);
    bytes_ += Cost(d) - before;
  }
  // Copy the blocks not seen yet; compare those already there.
  bool overlap = false, inconsistent = false;
  for (uint64_t pos = f.offset; pos < end;) {
    const size_t block = pos / 8;
    const uint64_t block_end = std::min<uint64_t>(end, (block + 1) * 8);
    const uint8_t* src = f.data + (pos - f.offset);
    char* dst = d.data.data() + pos;
    if (d.have[block]) {
      overlap = true;
      if (std::memcmp(dst, src, block_end - pos) != 0) inconsistent = true;
    } else {
      std::memcpy(dst, src, block_end - pos);
      if (block_end == (block + 1) * 8 || block_end == end) d.have[block] = true;
    }
    pos = block_end;
  }
  if (inconsistent) {
    *weird = "fragment_inconsistency";
  } else if (overlap) {
    *weird = "fragment_overlap";
  }
  if (*weird && !d.weird) d.weird = *weird;
  // The memory cap: drop the oldest incomplete datagrams (never this one).
  while (bytes_ > config_.max_bytes && by_age_.size() > 1) {
    auto victim = datagrams_.find(by_age_.front());
    if (victim == it) break;
    ++stats_.evicted;
    Drop(victim);
  }
  if (!Complete(d)) return Result::kIncomplete;

  // Rebuild: the first fragment's header with the length and fragment
  // fields fixed, followed by the payload.
  out_.assign(d.header);
  if (p.ip_version == 4) {
    const uint32_t total = out_.size() + d.total;
    out_[2] = static_cast<char>(total >> 8);
    out_[3] = static_cast<char>(total & 0xff);
    out_[6] = out_[7] = 0;
  } else {
    out_[4] = static_cast<char>(d.total >> 8);
    out_[5] = static_cast<char>(d.total & 0xff);
    out_[6] = static_cast<char>(f.next_header);  // fragment header (and those before it) dropped
  }
  out_.append(d.data.data(), d.total);
  completed_weird_ = d.weird;
  Drop(it);
  ++stats_.datagrams;
  *datagram = out_;
  return Result::kComplete;
}

}  // namespace gourmet::capture
