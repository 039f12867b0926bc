#include "log-sink/durable_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "services/log.h"

namespace gourmet::sink {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The uid of a line written by RenderRecord ("uid" is its second field).
std::string UidOf(const std::string& line) {
  static const std::string kKey = "\"uid\":\"";
  const size_t p = line.find(kKey);
  if (p == std::string::npos) return "";
  const size_t s = p + kKey.size();
  const size_t e = line.find('"', s);
  return e == std::string::npos ? "" : line.substr(s, e - s);
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

}  // namespace

absl::StatusOr<std::unique_ptr<DurableLog>> DurableLog::Open(const std::string& path,
                                                             FsyncPolicy policy) {
  std::unique_ptr<DurableLog> log(new DurableLog());
  log->path_ = path;
  log->policy_ = policy;
  // Recovery: keep whole lines only, and remember every uid.
  uint64_t good = 0;
  {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    uint64_t offset = 0;
    while (in && std::getline(in, line)) {
      if (in.eof()) break;  // no newline: a torn write
      offset += line.size() + 1;
      good = offset;
      const std::string uid = UidOf(line);
      absl::MutexLock l(&log->mu_);
      if (!uid.empty()) log->uids_.insert(uid);
      ++log->records_;
    }
  }
  log->fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log->fd_ < 0) return Errno(absl::StrCat("cannot open log '", path, "'"));
  struct stat st;
  if (fstat(log->fd_, &st) != 0) return Errno("fstat");
  if (static_cast<uint64_t>(st.st_size) > good) {
    log->cut_bytes_ = st.st_size - good;
    LogWarning("log '%s': cutting a torn last line of %d bytes left by a crash", path,
               log->cut_bytes_);
    if (ftruncate(log->fd_, good) != 0) return Errno("ftruncate");
    if (fsync(log->fd_) != 0) return Errno("fsync");
  }
  {
    absl::MutexLock l(&log->mu_);
    log->bytes_ = good;
  }
  log->writer_ = std::thread([p = log.get()] { p->Run(); });
  return log;
}

DurableLog::~DurableLog() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (writer_.joinable()) writer_.join();
  if (fd_ >= 0) close(fd_);
}

void DurableLog::Append(std::vector<std::pair<std::string, std::string>> lines, DoneFn done) {
  absl::MutexLock l(&mu_);
  queue_.push_back(Pending{std::move(lines), std::move(done)});
}

void DurableLog::Run() {
  for (;;) {
    std::vector<Pending> group;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](DurableLog* d)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(d->mu_) { return d->stop_ || !d->queue_.empty(); },
          this));
      if (queue_.empty()) return;
      group.swap(queue_);
    }
    // Build one buffer for the whole group; skip uids already logged.
    std::string buf;
    uint64_t added = 0, dups = 0;
    std::vector<std::string> new_uids;
    {
      absl::MutexLock l(&mu_);
      for (Pending& p : group) {
        for (auto& [uid, json] : p.lines) {
          if (!uids_.insert(uid).second) {
            ++dups;
            continue;
          }
          new_uids.push_back(uid);
          buf += json;
          buf += '\n';
          ++added;
        }
      }
    }
    uint64_t size_before;
    {
      absl::MutexLock l(&mu_);
      size_before = bytes_;
    }
    absl::Status st = WriteAll(fd_, buf.data(), buf.size());
    // A failed write must not leave half a line behind.
    if (!st.ok() && ftruncate(fd_, size_before) != 0)
      LogError("log '%s': cannot cut a failed write", path_);
    if (st.ok() && policy_ == FsyncPolicy::kGroup && fdatasync(fd_) != 0) st = Errno("fdatasync");
    {
      absl::MutexLock l(&mu_);
      if (st.ok()) {
        records_ += added;
        bytes_ += buf.size();
      } else {
        // Not durable: forget these uids so the resend is written.
        for (const auto& u : new_uids) uids_.erase(u);
      }
      duplicates_ += dups;
    }
    if (!st.ok()) LogError("log '%s': %s", path_, st.message());
    for (Pending& p : group) p.done(st);
  }
}

uint64_t DurableLog::records() const {
  absl::MutexLock l(&mu_);
  return records_;
}
uint64_t DurableLog::duplicates() const {
  absl::MutexLock l(&mu_);
  return duplicates_;
}
uint64_t DurableLog::bytes() const {
  absl::MutexLock l(&mu_);
  return bytes_;
}

}  // namespace gourmet::sink
