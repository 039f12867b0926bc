// The sink's append-only JSON-lines log. Appends are written by one writer
// thread and made durable in groups (one fsync for every append that queued
// while the previous fsync ran); an append's callback runs only after its
// lines are durable, which is when the sink acknowledges them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace gourmet::sink {

enum class FsyncPolicy {
  kGroup,  // fsync before acknowledging (grouped); survives power loss
  kNone,   // acknowledge after write(2); survives a process crash, not power loss
};

class DurableLog {
 public:
  using DoneFn = std::function<void(const absl::Status&)>;

  // Opens (creating) `path`. A torn last line from a crash is cut off, and
  // the uids already in the log are loaded so resent records are dropped.
  static absl::StatusOr<std::unique_ptr<DurableLog>> Open(const std::string& path,
                                                          FsyncPolicy policy);
  ~DurableLog();

  // Queues records; `done` runs after they are durable (or failed).
  // `lines` are (uid, json) pairs; a uid already logged is skipped.
  void Append(std::vector<std::pair<std::string, std::string>> lines, DoneFn done);

  uint64_t records() const;
  uint64_t duplicates() const;
  uint64_t bytes() const;
  uint64_t recovered_bytes_cut() const { return cut_bytes_; }

 private:
  struct Pending {
    std::vector<std::pair<std::string, std::string>> lines;
    DoneFn done;
  };
  DurableLog() = default;
  void Run();

  std::string path_;
  int fd_ = -1;
  FsyncPolicy policy_ = FsyncPolicy::kGroup;
  uint64_t cut_bytes_ = 0;
  mutable absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::string> uids_ ABSL_GUARDED_BY(mu_);
  uint64_t records_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t duplicates_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread writer_;
};

}  // namespace gourmet::sink
