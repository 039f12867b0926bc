#include "log-sink/durable_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "log-sink/json_scan.h"
#include "services/log.h"

namespace gourmet::sink {

struct DurableLog::Segment {
  uint64_t seq = 0;
  std::string path, idx_path;
  uint64_t size = 0;
  std::shared_ptr<const MappedFile> data;
  std::shared_ptr<const SegmentIndex> index;
  uint64_t index_bytes = 0;  // on disk (0 when it could not be written)
  absl::Time mtime;          // last write
};

namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write");
    }
    data += n;
    len -= n;
  }
  return absl::OkStatus();
}

void FsyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  if (fsync(fd) != 0) LogWarning("cannot sync directory '%s': %s", dir, std::strerror(errno));
  close(fd);
}

// Calls fn(keys, offset) for each valid whole line at the start of `data`
// and returns the length of that prefix: what follows is a torn or damaged
// tail.
template <typename Fn>
uint64_t ScanValidLines(std::string_view data, Fn&& fn) {
  uint64_t pos = 0;
  json::LineKeys keys;
  while (pos < data.size()) {
    const char* nl =
        static_cast<const char*>(std::memchr(data.data() + pos, '\n', data.size() - pos));
    if (nl == nullptr) break;
    const std::string_view line(data.data() + pos, nl - (data.data() + pos));
    if (!json::ReadLineKeys(line, &keys)) break;
    fn(keys, pos);
    pos = nl - data.data() + 1;
  }
  return pos;
}

// The decoded uid of a line.
std::string UidOfLine(std::string_view line) {
  std::string uid;
  json::ForEachMember(line, [&uid](std::string_view key, const json::Value& v) {
    if (key != "uid") return false;
    if (v.kind == json::Kind::kString) json::DecodeString(v.text, &uid);
    return true;
  });
  return uid;
}

std::string ReadLineAt(int fd, uint64_t offset) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof(buf), offset + out.size());
    if (n <= 0) return out;
    const char* nl = static_cast<const char*>(std::memchr(buf, '\n', n));
    if (nl != nullptr) {
      out.append(buf, nl - buf);
      return out;
    }
    out.append(buf, n);
  }
}

std::string_view LineAt(std::string_view text, uint64_t offset) {
  if (offset >= text.size()) return {};
  const char* start = text.data() + offset;
  const char* nl = static_cast<const char*>(std::memchr(start, '\n', text.size() - offset));
  return std::string_view(start, nl ? nl - start : text.size() - offset);
}

}  // namespace

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(std::string_view name) {
  if (name == "always") return FsyncPolicy::kAlways;
  if (name == "group") return FsyncPolicy::kGroup;
  if (name == "interval") return FsyncPolicy::kInterval;
  if (name == "none") return FsyncPolicy::kNone;
  return absl::InvalidArgumentError(
      absl::StrCat("'", std::string(name), "' is not a policy (always, group, interval, none)"));
}

const char* FsyncPolicyName(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kGroup:
      return "group";
    case FsyncPolicy::kInterval:
      return "interval";
    case FsyncPolicy::kNone:
      return "none";
  }
  return "?";
}

DurableLog::DurableLog(LogOptions options) : options_(std::move(options)) {
  const std::string& path = options_.path;
  const size_t slash = path.rfind('/');
  dir_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string::npos || dot == 0) {
    stem_ = base;
  } else {
    stem_ = base.substr(0, dot);
    ext_ = base.substr(dot);
  }
  active_index_ = std::make_shared<ActiveIndex>();
}

std::string DurableLog::SegmentPath(uint64_t seq) const {
  return absl::StrFormat("%s/%s.%06d%s", dir_, stem_, seq, ext_);
}

std::string DurableLog::IndexPath(uint64_t seq) const {
  return absl::StrFormat("%s/%s.%06d.idx", dir_, stem_, seq);
}

absl::StatusOr<std::unique_ptr<DurableLog>> DurableLog::Open(const std::string& path,
                                                             FsyncPolicy policy) {
  LogOptions o;
  o.path = path;
  o.fsync = policy;
  return Open(std::move(o));
}

absl::StatusOr<std::unique_ptr<DurableLog>> DurableLog::Open(LogOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("the log path is empty");
  std::unique_ptr<DurableLog> log(new DurableLog(std::move(options)));
  absl::Status st = log->Recover();
  if (!st.ok()) return st;
  const absl::Time now = log->options_.now();
  log->last_sync_ = now;
  log->last_retention_ = now;
  log->writer_ = std::thread([p = log.get()] { p->Run(); });
  log->RunOnWriter([p = log.get(), now] { p->EnforceRetention(now); });
  return log;
}

absl::StatusOr<std::shared_ptr<DurableLog::Segment>> DurableLog::LoadSealed(uint64_t seq) {
  auto seg = std::make_shared<Segment>();
  seg->seq = seq;
  seg->path = SegmentPath(seq);
  seg->idx_path = IndexPath(seq);
  const int fd = open(seg->path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot open segment '", seg->path, "'"));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("fstat");
  }
  seg->size = st.st_size;
  seg->mtime = absl::TimeFromTimespec(st.st_mtim);
  if (seg->size > 0) {
    auto idx = SegmentIndex::Open(seg->idx_path, seg->size);
    if (idx.ok()) {
      seg->index = std::move(*idx);
      seg->index_bytes = seg->index->file_bytes();
    } else {
      if (!absl::IsUnavailable(idx.status()) || access(seg->idx_path.c_str(), F_OK) == 0)
        LogWarning("%s; rebuilding it", idx.status().message());
      auto mapped = MappedFile::Map(fd, seg->size, seg->path);
      if (!mapped.ok()) {
        close(fd);
        return mapped.status();
      }
      std::vector<IndexEntry> uids, cids;
      std::vector<TsEntry> ts;
      const uint64_t valid =
          ScanValidLines((*mapped)->data(), [&](const json::LineKeys& k, uint64_t off) {
            uids.push_back({KeyHash(k.uid), off});
            cids.push_back({KeyHash(k.community_id), off});
            ts.push_back({k.ts_us, off});
          });
      mapped->reset();
      if (valid < seg->size) {
        LogWarning("segment '%s': cutting %d bytes of damaged lines at offset %d", seg->path,
                   seg->size - valid, valid);
        if (ftruncate(fd, valid) != 0 || fsync(fd) != 0) {
          absl::Status s = Errno(absl::StrCat("cannot cut segment '", seg->path, "'"));
          close(fd);
          return s;
        }
        cut_bytes_ += seg->size - valid;
        seg->size = valid;
      }
      std::string bytes =
          SegmentIndex::Serialize(std::move(uids), std::move(cids), std::move(ts), seg->size);
      absl::Status ws = SegmentIndex::WriteFile(seg->idx_path, bytes);
      if (ws.ok()) {
        auto reopened = SegmentIndex::Open(seg->idx_path, seg->size);
        if (reopened.ok()) {
          seg->index = std::move(*reopened);
          seg->index_bytes = seg->index->file_bytes();
        }
      } else {
        LogWarning("%s; keeping the index of '%s' in memory", ws.message(), seg->path);
      }
      if (!seg->index) seg->index = SegmentIndex::FromBuffer(std::move(bytes));
    }
  }
  if (seg->size == 0) {
    close(fd);
    unlink(seg->path.c_str());
    unlink(seg->idx_path.c_str());
    return std::shared_ptr<Segment>();
  }
  auto mapped = MappedFile::Map(fd, seg->size, seg->path);
  close(fd);
  if (!mapped.ok()) return mapped.status();
  seg->data = std::move(*mapped);
  return seg;
}

absl::Status DurableLog::Recover() {
  const std::string& path = options_.path;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("cannot open log '", path, "'"));
  // One writer per log: a second sink on the same files would interleave
  // and cut each other's lines.
  const std::string lock_path = absl::StrCat(dir_, "/", stem_, ".lock");
  lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    absl::Status s =
        errno == EWOULDBLOCK
            ? absl::FailedPreconditionError(absl::StrCat(
                  "log '", path, "' is in use by another process (it holds '", lock_path, "')"))
            : Errno(absl::StrCat("cannot lock '", lock_path, "'"));
    close(fd);
    return s;
  }
  // The numbered segments and indexes of this log in its directory.
  std::set<uint64_t> segs, idxs;
  std::vector<std::string> leftovers;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) {
    absl::Status s = Errno(absl::StrCat("cannot list '", dir_, "'"));
    close(fd);
    return s;
  }
  const std::string prefix = stem_ + ".";
  while (dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name.substr(0, prefix.size()) != prefix) continue;
    name.remove_prefix(prefix.size());
    size_t digits = 0;
    while (digits < name.size() && absl::ascii_isdigit(name[digits])) ++digits;
    if (digits < 6 || digits > 18) continue;
    const uint64_t seq = std::stoull(std::string(name.substr(0, digits)));
    const std::string_view rest = name.substr(digits);
    if (rest == ext_) {
      segs.insert(seq);
    } else if (rest == ".idx") {
      idxs.insert(seq);
    } else if (rest == ".idx.tmp") {
      leftovers.push_back(absl::StrCat(dir_, "/", e->d_name));
    }
  }
  closedir(d);
  for (const std::string& f : leftovers) unlink(f.c_str());
  for (uint64_t seq : idxs) {
    if (!segs.count(seq)) unlink(IndexPath(seq).c_str());  // its segment was deleted
  }
  uint64_t max_seq = 0;
  std::vector<std::shared_ptr<Segment>> sealed;
  for (uint64_t seq : segs) {
    auto seg = LoadSealed(seq);
    if (!seg.ok()) {
      close(fd);
      return seg.status();
    }
    max_seq = std::max(max_seq, seq);
    if (*seg) sealed.push_back(std::move(*seg));
  }
  // The active segment: keep whole valid lines, index them.
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status s = Errno("fstat");
    close(fd);
    return s;
  }
  uint64_t valid = 0;
  std::vector<uint64_t> active_hashes;
  if (st.st_size > 0) {
    auto mapped = MappedFile::Map(fd, st.st_size, path);
    if (!mapped.ok()) {
      close(fd);
      return mapped.status();
    }
    valid = ScanValidLines((*mapped)->data(), [&](const json::LineKeys& k, uint64_t off) {
      active_hashes.push_back(KeyHash(k.uid));
      active_index_->Add(active_hashes.back(), KeyHash(k.community_id), k.ts_us, off);
    });
  }
  if (static_cast<uint64_t>(st.st_size) > valid) {
    cut_bytes_ += st.st_size - valid;
    LogWarning("log '%s': cutting %d bytes of torn or damaged lines left by a crash", path,
               st.st_size - valid);
    if (ftruncate(fd, valid) != 0 || fsync(fd) != 0) {
      absl::Status s = Errno(absl::StrCat("cannot cut the torn end of '", path, "'"));
      close(fd);
      return s;
    }
  }
  absl::MutexLock l(&mu_);
  fd_ = fd;
  visible_ = valid;
  active_bytes_ = valid;
  active_seq_ = max_seq + 1;
  active_started_ = options_.now();
  // Age rotation counts from the segment's creation, not from this start.
  struct statx sx;
  if (valid > 0 && statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
      (sx.stx_mask & STATX_BTIME)) {
    active_started_ = std::min(active_started_, absl::FromUnixSeconds(sx.stx_btime.tv_sec));
  }
  sealed_ = std::move(sealed);
  for (const auto& seg : sealed_) {
    sealed_records_ += seg->index->header().count;
    sealed_bytes_ += seg->size;
    sealed_index_bytes_ += seg->index_bytes;
    for (const IndexEntry& e : seg->index->uids()) uid_hashes_.insert(e.key);
  }
  uid_hashes_.insert(active_hashes.begin(), active_hashes.end());
  return absl::OkStatus();
}

DurableLog::~DurableLog() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (writer_.joinable()) writer_.join();
  absl::MutexLock l(&mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (lock_fd_ >= 0) close(lock_fd_);
}

void DurableLog::Append(std::vector<LogEntry> entries, DoneFn done) {
  absl::MutexLock l(&mu_);
  queue_.push_back(Pending{std::move(entries), std::move(done), nullptr});
}

void DurableLog::RunOnWriter(std::function<void()> fn) {
  absl::Mutex m;
  bool done = false;
  {
    absl::MutexLock l(&mu_);
    queue_.push_back(Pending{{},
                             [&m, &done](const absl::Status&) {
                               absl::MutexLock l(&m);
                               done = true;
                             },
                             fn ? std::move(fn) : [] {}});
  }
  absl::MutexLock l(&m);
  m.Await(absl::Condition(&done));
}

void DurableLog::RotateNow() {
  RunOnWriter([this] {
    absl::Status s = Rotate();
    if (!s.ok()) LogError("log '%s': rotation failed: %s", options_.path, s.message());
  });
}

void DurableLog::EnforceRetentionNow() {
  RunOnWriter([this] { EnforceRetention(options_.now()); });
}

void DurableLog::Run() {
  const absl::Duration tick = options_.fsync == FsyncPolicy::kInterval
                                  ? std::min(options_.fsync_interval, absl::Seconds(1))
                                  : absl::Seconds(1);
  for (;;) {
    std::vector<Pending> group;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.AwaitWithTimeout(absl::Condition(&ready), tick);
      if (queue_.empty() && stop_) break;
      if (options_.fsync == FsyncPolicy::kAlways && !queue_.empty()) {
        group.push_back(std::move(queue_.front()));
        queue_.erase(queue_.begin());
      } else {
        group.swap(queue_);
      }
    }
    // Age rotation and retention before the next lines: they go into the new segment.
    Maintain(options_.now());
    // Controls run in order, between the appends queued before and after them.
    std::vector<Pending> batch;
    for (Pending& p : group) {
      if (p.control) {
        if (!batch.empty()) WriteGroup(batch);
        batch.clear();
        p.control();
        if (p.done) p.done(absl::OkStatus());
      } else {
        batch.push_back(std::move(p));
      }
    }
    if (!batch.empty()) WriteGroup(batch);
  }
  if (unsynced_) {
    absl::Status s = Sync();
    if (!s.ok()) LogError("log '%s': %s", options_.path, s.message());
  }
}

void DurableLog::Maintain(absl::Time now) {
  if (options_.rotate_age > absl::ZeroDuration() && active_bytes_ > 0 &&
      now - active_started_ >= options_.rotate_age) {
    absl::Status s = Rotate();
    if (!s.ok()) LogError("log '%s': rotation failed: %s", options_.path, s.message());
  }
  if (options_.fsync == FsyncPolicy::kInterval && unsynced_ &&
      now - last_sync_ >= options_.fsync_interval) {
    absl::Status s = Sync();
    if (!s.ok()) LogError("log '%s': %s", options_.path, s.message());
  }
  if (now - last_retention_ >= absl::Seconds(1)) EnforceRetention(now);
}

absl::Status DurableLog::Sync() {
  int fd;
  {
    absl::MutexLock l(&mu_);
    fd = fd_;
  }
  if (fd < 0) return absl::OkStatus();
  const absl::Time t0 = absl::Now();
  if (fdatasync(fd) != 0) return Errno(absl::StrCat("fdatasync '", options_.path, "'"));
  if (options_.metrics.fsync_seconds)
    options_.metrics.fsync_seconds->Observe(absl::ToDoubleSeconds(absl::Now() - t0));
  unsynced_ = false;
  last_sync_ = options_.now();
  return absl::OkStatus();
}

void DurableLog::WriteGroup(std::vector<Pending>& group) {
  struct Keys {
    uint64_t uid_hash, cid_hash;
    int64_t ts_us;
    uint64_t rel;  // offset in buf
  };
  auto buf = std::make_shared<std::string>();
  std::vector<Keys> keys;
  std::vector<uint64_t> new_hashes;
  int fd;
  {
    absl::MutexLock l(&mu_);
    size_t total = 0, n = 0;
    for (const Pending& p : group) {
      for (const LogEntry& e : p.entries) total += e.json.size() + 1;
      n += p.entries.size();
    }
    buf->reserve(total);
    keys.reserve(n);
    absl::flat_hash_set<std::string_view> in_group;
    for (Pending& p : group) {
      for (const LogEntry& e : p.entries) {
        const uint64_t h = KeyHash(e.uid);
        if (!in_group.insert(e.uid).second ||
            (uid_hashes_.contains(h) && ContainsLocked(e.uid, h))) {
          ++duplicates_;
          continue;
        }
        if (uid_hashes_.insert(h).second) new_hashes.push_back(h);
        keys.push_back({h, KeyHash(e.community_id), e.ts_us, buf->size()});
        buf->append(e.json);
        buf->push_back('\n');
      }
    }
    fd = fd_;
  }
  absl::Status st;
  if (!buf->empty()) {
    if (options_.rotate_bytes > 0 && active_bytes_ > 0 &&
        active_bytes_ + buf->size() > options_.rotate_bytes) {
      st = Rotate();
      if (!st.ok()) LogError("log '%s': rotation failed: %s", options_.path, st.message());
      st = absl::OkStatus();  // keep writing into the current segment
    }
    {
      absl::MutexLock l(&mu_);
      if (fd_ < 0) {
        fd_ = open(options_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ >= 0) FsyncDir(dir_);
      }
      fd = fd_;
    }
    if (fd < 0) st = Errno(absl::StrCat("cannot open log '", options_.path, "'"));
    if (st.ok()) st = WriteAll(fd, buf->data(), buf->size());
    if (st.ok()) {
      unsynced_ = true;
      if (options_.fsync == FsyncPolicy::kAlways || options_.fsync == FsyncPolicy::kGroup)
        st = Sync();
    }
    // Neither a failed write nor a failed fsync may leave lines behind: the
    // sender resends them, and they must then be written again.
    if (!st.ok() && fd >= 0 && ftruncate(fd, active_bytes_) != 0)
      LogError("log '%s': cannot cut a failed write", options_.path);
  }
  {
    absl::MutexLock l(&mu_);
    if (st.ok()) {
      for (const Keys& k : keys)
        active_index_->Add(k.uid_hash, k.cid_hash, k.ts_us, active_bytes_ + k.rel);
      visible_ = active_bytes_ + buf->size();
      if (!buf->empty()) {
        for (auto& [id, fn] : listeners_) fn(buf);
      }
    } else {
      for (uint64_t h : new_hashes) uid_hashes_.erase(h);
    }
  }
  if (!st.ok()) {
    LogError("log '%s': %s", options_.path, st.message());
  } else if (!buf->empty()) {
    if (active_bytes_ == 0) active_started_ = options_.now();
    active_bytes_ += buf->size();
    if (options_.metrics.records_written) options_.metrics.records_written->Increment(keys.size());
    if (options_.metrics.bytes_written) options_.metrics.bytes_written->Increment(buf->size());
  }
  for (Pending& p : group) {
    if (p.done) p.done(st);
  }
}

absl::Status DurableLog::Rotate() {
  const absl::Time now = options_.now();
  if (active_bytes_ == 0) return absl::OkStatus();
  if (unsynced_) {
    absl::Status s = Sync();  // a sealed segment is always durable
    if (!s.ok()) return s;
  }
  uint64_t seq;
  int fd;
  std::shared_ptr<ActiveIndex> index;
  {
    absl::MutexLock l(&mu_);
    seq = active_seq_;
    fd = fd_;
    index = active_index_;
  }
  if (fd < 0) return absl::UnavailableError("no active segment");
  auto seg = std::make_shared<Segment>();
  seg->seq = seq;
  seg->path = SegmentPath(seq);
  seg->idx_path = IndexPath(seq);
  seg->size = active_bytes_;
  seg->mtime = now;
  auto data = MappedFile::Map(fd, active_bytes_, seg->path);
  if (!data.ok()) return data.status();
  seg->data = std::move(*data);
  // The rename is the commit point: before it the lines are in the active
  // segment, after it in sealed segment `seq` (whose index a restart rebuilds
  // if the crash comes before it is written).
  if (rename(options_.path.c_str(), seg->path.c_str()) != 0)
    return Errno(absl::StrCat("cannot rename '", options_.path, "' to '", seg->path, "'"));
  const int nfd = open(options_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (nfd < 0) LogError("cannot create '%s': %s", options_.path, std::strerror(errno));
  FsyncDir(dir_);
  std::string bytes = index->Serialize(seg->size);
  absl::Status ws = SegmentIndex::WriteFile(seg->idx_path, bytes);
  if (ws.ok()) {
    FsyncDir(dir_);
    auto opened = SegmentIndex::Open(seg->idx_path, seg->size);
    if (opened.ok()) {
      seg->index = std::move(*opened);
      seg->index_bytes = seg->index->file_bytes();
    }
  } else {
    LogWarning("%s; the index of '%s' stays in memory and is rebuilt at the next start",
               ws.message(), seg->path);
  }
  if (!seg->index) seg->index = SegmentIndex::FromBuffer(std::move(bytes));
  {
    absl::MutexLock l(&mu_);
    sealed_records_ += seg->index->header().count;
    sealed_bytes_ += seg->size;
    sealed_index_bytes_ += seg->index_bytes;
    sealed_.push_back(std::move(seg));
    active_index_ = std::make_shared<ActiveIndex>();
    visible_ = 0;
    ++active_seq_;
    fd_ = nfd;
  }
  close(fd);
  active_bytes_ = 0;
  active_started_ = now;
  unsynced_ = false;
  if (options_.metrics.rotations) options_.metrics.rotations->Increment();
  EnforceRetention(now);
  return absl::OkStatus();
}

void DurableLog::EnforceRetention(absl::Time now) {
  last_retention_ = now;
  if (options_.retain_bytes == 0 && options_.retain_age <= absl::ZeroDuration()) return;
  std::vector<std::pair<std::shared_ptr<Segment>, bool>> doomed;  // (segment, by age)
  {
    absl::MutexLock l(&mu_);
    while (!sealed_.empty()) {
      const Segment& s = *sealed_.front();
      const bool old =
          options_.retain_age > absl::ZeroDuration() && now - s.mtime > options_.retain_age;
      const bool big = options_.retain_bytes > 0 &&
                       sealed_bytes_ + sealed_index_bytes_ + visible_ > options_.retain_bytes;
      if (!old && !big) break;
      sealed_records_ -= s.index->header().count;
      sealed_bytes_ -= s.size;
      sealed_index_bytes_ -= s.index_bytes;
      // A uid whose line is gone is no longer a duplicate.
      for (const IndexEntry& e : s.index->uids()) uid_hashes_.erase(e.key);
      doomed.emplace_back(sealed_.front(), old);
      sealed_.erase(sealed_.begin());
    }
  }
  for (const auto& [s, by_age] : doomed) {
    // The segment first: an index without its segment is removed at start.
    if (unlink(s->path.c_str()) != 0)
      LogError("cannot delete '%s': %s", s->path, std::strerror(errno));
    unlink(s->idx_path.c_str());
    LogInfo("retention: deleted '%s' (%d records, %s)", s->path, s->index->header().count,
            by_age ? "older than retention.max_age" : "over retention.max_bytes");
    prometheus::Counter* c =
        by_age ? options_.metrics.deleted_by_age : options_.metrics.deleted_by_size;
    if (c) c->Increment();
  }
  if (!doomed.empty()) FsyncDir(dir_);
}

bool DurableLog::ContainsLocked(std::string_view uid, uint64_t hash) const {
  if (fd_ >= 0) {
    for (uint64_t off : active_index_->FindUid(hash, visible_)) {
      if (UidOfLine(ReadLineAt(fd_, off)) == uid) return true;
    }
  }
  for (auto it = sealed_.rbegin(); it != sealed_.rend(); ++it) {
    const Segment& s = **it;
    for (uint64_t off : LookupKey(s.index->uids(), hash)) {
      if (UidOfLine(LineAt(s.data->data(), off)) == uid) return true;
    }
  }
  return false;
}

bool DurableLog::Contains(std::string_view uid) const {
  const uint64_t h = KeyHash(uid);
  absl::MutexLock l(&mu_);
  return uid_hashes_.contains(h) && ContainsLocked(uid, h);
}

Snapshot DurableLog::SnapshotLocked() const {
  Snapshot snap;
  snap.segments.reserve(sealed_.size() + 1);
  for (const auto& s : sealed_) {
    SegmentRef r;
    r.seq = s->seq;
    r.path = s->path;
    r.data = s->data;
    r.index = s->index;
    r.count = s->index->header().count;
    r.min_ts_us = s->index->header().min_ts_us;
    r.max_ts_us = s->index->header().max_ts_us;
    snap.segments.push_back(std::move(r));
  }
  SegmentRef a;
  a.seq = active_seq_;
  a.path = options_.path;
  a.active = true;
  a.active_index = active_index_;
  if (fd_ >= 0 && visible_ > 0) {
    auto m = MappedFile::Map(fd_, visible_, options_.path);
    if (m.ok()) {
      a.data = std::move(*m);
      a.count = active_index_->count();
      a.min_ts_us = active_index_->min_ts();
      a.max_ts_us = active_index_->max_ts();
    } else {
      LogError("%s", m.status().message());
    }
  }
  snap.segments.push_back(std::move(a));
  return snap;
}

Snapshot DurableLog::snapshot() const {
  absl::MutexLock l(&mu_);
  return SnapshotLocked();
}

uint64_t DurableLog::Subscribe(Listener fn, Snapshot* snap) {
  absl::MutexLock l(&mu_);
  const uint64_t id = next_listener_++;
  listeners_.emplace_back(id, std::move(fn));
  if (snap != nullptr) *snap = SnapshotLocked();
  return id;
}

void DurableLog::Unsubscribe(uint64_t id) {
  absl::MutexLock l(&mu_);
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [id](const auto& p) { return p.first == id; }),
                   listeners_.end());
}

LogStats DurableLog::stats() const {
  absl::MutexLock l(&mu_);
  LogStats s;
  const uint64_t active_count = active_index_->count();
  s.records = sealed_records_ + active_count;
  s.bytes = sealed_bytes_ + visible_;
  s.segments = sealed_.size() + 1;
  s.index_bytes = sealed_index_bytes_;
  s.duplicates = duplicates_;
  s.active_path = options_.path;
  bool any = false;
  auto add = [&](int64_t lo, int64_t hi) {
    s.oldest_us = any ? std::min(s.oldest_us, lo) : lo;
    s.newest_us = any ? std::max(s.newest_us, hi) : hi;
    any = true;
  };
  for (const auto& seg : sealed_) {
    if (seg->index->header().count > 0)
      add(seg->index->header().min_ts_us, seg->index->header().max_ts_us);
  }
  if (active_count > 0) add(active_index_->min_ts(), active_index_->max_ts());
  return s;
}

uint64_t DurableLog::records() const {
  absl::MutexLock l(&mu_);
  return sealed_records_ + active_index_->count();
}
uint64_t DurableLog::duplicates() const {
  absl::MutexLock l(&mu_);
  return duplicates_;
}
uint64_t DurableLog::bytes() const {
  absl::MutexLock l(&mu_);
  return sealed_bytes_ + visible_;
}

}  // namespace gourmet::sink
