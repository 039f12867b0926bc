#include "log-sink/segment_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace gourmet::sink {
namespace {

constexpr char kMagic[8] = {'G', 'M', 'T', 'I', 'D', 'X', '0', '1'};

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t Checksum(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ Mix(w)) * 0x100000001b3ULL;
  }
  for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ULL;
  return Mix(h);
}

}  // namespace

uint64_t KeyHash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return Mix(h);
}

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Map(int fd, uint64_t size,
                                                                  const std::string& what) {
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->size_ = size;
  if (size == 0) return std::shared_ptr<const MappedFile>(std::move(m));
  void* addr = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return Errno(absl::StrCat("cannot map ", what));
  m->addr_ = addr;
  return std::shared_ptr<const MappedFile>(std::move(m));
}

MappedFile::~MappedFile() {
  if (addr_ != nullptr) munmap(addr_, size_);
}

std::string SegmentIndex::Serialize(std::vector<IndexEntry> uids, std::vector<IndexEntry> cids,
                                    std::vector<TsEntry> ts, uint64_t data_bytes) {
  std::sort(uids.begin(), uids.end());
  std::sort(cids.begin(), cids.end());
  std::sort(ts.begin(), ts.end());
  const size_t n = uids.size();
  IndexHeader h;
  std::memset(&h, 0, sizeof(h));
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.data_bytes = data_bytes;
  h.count = n;
  h.min_ts_us = n ? ts.front().ts_us : 0;
  h.max_ts_us = n ? ts.back().ts_us : 0;
  std::string out(sizeof(h) + n * (2 * sizeof(IndexEntry) + sizeof(TsEntry)), '\0');
  char* p = out.data() + sizeof(h);
  std::memcpy(p, uids.data(), n * sizeof(IndexEntry));
  p += n * sizeof(IndexEntry);
  std::memcpy(p, cids.data(), n * sizeof(IndexEntry));
  p += n * sizeof(IndexEntry);
  std::memcpy(p, ts.data(), n * sizeof(TsEntry));
  h.checksum = Checksum(out.data() + sizeof(h), out.size() - sizeof(h));
  std::memcpy(out.data(), &h, sizeof(h));
  return out;
}

absl::Status SegmentIndex::Attach(std::string_view bytes, uint64_t data_bytes) {
  if (bytes.size() < sizeof(IndexHeader)) return absl::DataLossError("shorter than its header");
  header_ = reinterpret_cast<const IndexHeader*>(bytes.data());
  if (std::memcmp(header_->magic, kMagic, sizeof(kMagic)) != 0)
    return absl::DataLossError("not a Gourmet segment index");
  if (header_->data_bytes != data_bytes)
    return absl::DataLossError(absl::StrCat("describes ", header_->data_bytes,
                                            " bytes of segment, the segment has ", data_bytes));
  const uint64_t n = header_->count;
  if (bytes.size() != sizeof(IndexHeader) + n * (2 * sizeof(IndexEntry) + sizeof(TsEntry)))
    return absl::DataLossError("size does not match its record count");
  if (Checksum(bytes.data() + sizeof(IndexHeader), bytes.size() - sizeof(IndexHeader)) !=
      header_->checksum)
    return absl::DataLossError("checksum mismatch");
  const char* p = bytes.data() + sizeof(IndexHeader);
  uids_ = {reinterpret_cast<const IndexEntry*>(p), n};
  p += n * sizeof(IndexEntry);
  cids_ = {reinterpret_cast<const IndexEntry*>(p), n};
  p += n * sizeof(IndexEntry);
  ts_ = {reinterpret_cast<const TsEntry*>(p), n};
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SegmentIndex>> SegmentIndex::Open(const std::string& path,
                                                                 uint64_t data_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot open index '", path, "'"));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("fstat");
  }
  auto mapped = MappedFile::Map(fd, st.st_size, path);
  close(fd);
  if (!mapped.ok()) return mapped.status();
  std::unique_ptr<SegmentIndex> idx(new SegmentIndex());
  idx->mapped_ = std::move(*mapped);
  absl::Status s = idx->Attach(idx->mapped_->data(), data_bytes);
  if (!s.ok()) return absl::DataLossError(absl::StrCat("index '", path, "': ", s.message()));
  return idx;
}

std::unique_ptr<SegmentIndex> SegmentIndex::FromBuffer(std::string bytes) {
  std::unique_ptr<SegmentIndex> idx(new SegmentIndex());
  idx->owned_ = std::move(bytes);
  const IndexHeader* h = reinterpret_cast<const IndexHeader*>(idx->owned_.data());
  (void)idx->Attach(idx->owned_, h->data_bytes);
  return idx;
}

uint64_t SegmentIndex::file_bytes() const {
  return mapped_ ? mapped_->data().size() : owned_.size();
}

absl::Status SegmentIndex::WriteFile(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("cannot create '", tmp, "'"));
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno(absl::StrCat("cannot write '", tmp, "'"));
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    p += n;
    left -= n;
  }
  if (fdatasync(fd) != 0) {
    absl::Status s = Errno(absl::StrCat("cannot sync '", tmp, "'"));
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno(absl::StrCat("cannot rename '", tmp, "'"));
    unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

std::vector<uint64_t> LookupKey(absl::Span<const IndexEntry> table, uint64_t key) {
  std::vector<uint64_t> out;
  auto it = std::lower_bound(table.begin(), table.end(), IndexEntry{key, 0});
  for (; it != table.end() && it->key == key; ++it) out.push_back(it->offset);
  return out;
}

void ActiveIndex::Add(uint64_t uid_hash, uint64_t cid_hash, int64_t ts_us, uint64_t offset) {
  absl::MutexLock l(&mu_);
  const uint32_t pos = static_cast<uint32_t>(uids_.size());
  if (!uid_pos_.emplace(uid_hash, pos).second) uid_collision_ = true;
  uids_.push_back({uid_hash, offset});
  cids_.push_back({cid_hash, offset});
  ts_.push_back({ts_us, offset});
  min_ts_ = std::min(min_ts_, ts_us);
  max_ts_ = std::max(max_ts_, ts_us);
}

std::vector<uint64_t> ActiveIndex::FindUid(uint64_t hash, uint64_t limit) const {
  absl::MutexLock l(&mu_);
  std::vector<uint64_t> out;
  if (uid_collision_) {
    for (const IndexEntry& e : uids_) {
      if (e.key == hash && e.offset < limit) out.push_back(e.offset);
    }
    return out;
  }
  auto it = uid_pos_.find(hash);
  if (it != uid_pos_.end() && uids_[it->second].offset < limit)
    out.push_back(uids_[it->second].offset);
  return out;
}

std::vector<uint64_t> ActiveIndex::FindCid(uint64_t hash, uint64_t limit) const {
  absl::MutexLock l(&mu_);
  std::vector<uint64_t> out;
  for (const IndexEntry& e : cids_) {
    if (e.key == hash && e.offset < limit) out.push_back(e.offset);
  }
  return out;
}

std::vector<TsEntry> ActiveIndex::TsRange(int64_t from, int64_t to, uint64_t limit) const {
  std::vector<TsEntry> out;
  {
    absl::MutexLock l(&mu_);
    for (const TsEntry& e : ts_) {
      if (e.ts_us >= from && e.ts_us < to && e.offset < limit) out.push_back(e);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t ActiveIndex::count() const {
  absl::MutexLock l(&mu_);
  return uids_.size();
}
int64_t ActiveIndex::min_ts() const {
  absl::MutexLock l(&mu_);
  return uids_.empty() ? 0 : min_ts_;
}
int64_t ActiveIndex::max_ts() const {
  absl::MutexLock l(&mu_);
  return uids_.empty() ? 0 : max_ts_;
}

std::string ActiveIndex::Serialize(uint64_t data_bytes) const {
  absl::MutexLock l(&mu_);
  return SegmentIndex::Serialize(uids_, cids_, ts_, data_bytes);
}

}  // namespace gourmet::sink
