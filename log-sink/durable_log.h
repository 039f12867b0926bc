// The sink's log: append-only JSON-lines segment files, each with an index,
// written by one writer thread and made durable in groups; rotated by size
// and age, trimmed by total size and age, and recovered after a crash to
// whole lines only.
//
// Files, for log_path `dir/gourmet.log`:
//   dir/gourmet.log          the active segment, the one appended to
//   dir/gourmet.000042.log   sealed segments, numbered in the order written
//   dir/gourmet.000042.idx   the index of a sealed segment (segment_index.h)
//   dir/gourmet.lock         held (flock) by the one process writing the log
// A log shipper follows `gourmet.log` (rotation renames it, as logrotate
// does) or reads the numbered segments.
//
// An append's callback runs once its lines are as durable as the fsync
// policy makes them; that is when the sink acknowledges them. A line whose
// uid is already in the log (a resend) is dropped, so appends are idempotent.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "log-sink/segment_index.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

namespace gourmet::sink {

enum class FsyncPolicy {
  kAlways,    // fdatasync after each append, before its callback; no grouping
  kGroup,     // fdatasync before the callbacks, one for all appends queued meanwhile
  kInterval,  // callbacks after write(2); fdatasync every fsync_interval
  kNone,      // callbacks after write(2); fdatasync only at rotation and close
};
absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(std::string_view name);
const char* FsyncPolicyName(FsyncPolicy p);

// Optional metrics the log updates (any may be null).
struct LogMetrics {
  prometheus::Histogram* fsync_seconds = nullptr;
  prometheus::Counter* records_written = nullptr;
  prometheus::Counter* bytes_written = nullptr;
  prometheus::Counter* rotations = nullptr;
  prometheus::Counter* deleted_by_size = nullptr;
  prometheus::Counter* deleted_by_age = nullptr;
};

struct LogOptions {
  std::string path = "gourmet.log";  // the active segment
  FsyncPolicy fsync = FsyncPolicy::kGroup;
  absl::Duration fsync_interval = absl::Seconds(1);  // kInterval
  uint64_t rotate_bytes = 256ull << 20;              // 0: never by size
  absl::Duration rotate_age = absl::Hours(1);        // 0: never by age
  uint64_t retain_bytes = 0;                         // total of all segments; 0: no limit
  absl::Duration retain_age = absl::ZeroDuration();  // sealed segments older: deleted; 0: keep
  std::function<absl::Time()> now = [] { return absl::Now(); };  // the clock (tests)
  LogMetrics metrics;
};

// One connection's line and the keys the index needs.
struct LogEntry {
  std::string uid;
  std::string community_id;
  int64_t ts_us = 0;
  std::string json;  // one line, without the newline
};

// A segment as a reader sees it at one instant: immutable and safe to use
// from any thread for as long as it is held, even after retention deleted it.
struct SegmentRef {
  uint64_t seq = 0;
  std::string path;
  bool active = false;
  std::shared_ptr<const MappedFile> data;           // the visible bytes
  std::shared_ptr<const SegmentIndex> index;        // sealed segments
  std::shared_ptr<const ActiveIndex> active_index;  // the active segment
  uint64_t count = 0;
  int64_t min_ts_us = 0, max_ts_us = 0;
  std::string_view text() const { return data ? data->data() : std::string_view(); }
};

// Every segment, oldest first (the active one last).
struct Snapshot {
  std::vector<SegmentRef> segments;
};

struct LogStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t segments = 0;
  uint64_t index_bytes = 0;
  int64_t oldest_us = 0;
  int64_t newest_us = 0;
  uint64_t duplicates = 0;
  std::string active_path;
};

class DurableLog {
 public:
  using DoneFn = std::function<void(const absl::Status&)>;
  // Gets the text of each group of lines once it is visible (on the writer
  // thread, under the log's lock: it must only queue them, never call back).
  using Listener = std::function<void(std::shared_ptr<const std::string> lines)>;

  // Opens the log, creating it: cuts a torn or invalid tail of the active
  // segment, rebuilds missing or damaged indexes, deletes leftovers of an
  // interrupted rotation, and loads the uids already written.
  static absl::StatusOr<std::unique_ptr<DurableLog>> Open(LogOptions options);
  static absl::StatusOr<std::unique_ptr<DurableLog>> Open(const std::string& path,
                                                          FsyncPolicy policy);
  // Writes what is queued, syncs and closes.
  ~DurableLog();

  // Queues lines; `done` runs when they are written as the policy says, or
  // failed (then none of them is in the log). A uid already logged is skipped.
  void Append(std::vector<LogEntry> entries, DoneFn done);
  // Runs `fn` on the writer thread between two groups and waits for it.
  void RunOnWriter(std::function<void()> fn);
  // Seals the active segment now (when it has lines) and applies retention.
  void RotateNow();
  void EnforceRetentionNow();

  // True when a line with this uid is in the log.
  bool Contains(std::string_view uid) const;
  Snapshot snapshot() const;
  // Adds a listener and returns its id, with the snapshot of the same instant:
  // the listener gets exactly the lines written after it.
  uint64_t Subscribe(Listener fn, Snapshot* snap);
  void Unsubscribe(uint64_t id);

  LogStats stats() const;
  uint64_t records() const;
  uint64_t duplicates() const;
  uint64_t bytes() const;
  uint64_t recovered_bytes_cut() const { return cut_bytes_; }
  const LogOptions& options() const { return options_; }

  // File names of segment `seq` and its index.
  std::string SegmentPath(uint64_t seq) const;
  std::string IndexPath(uint64_t seq) const;

 private:
  struct Segment;
  struct Pending {
    std::vector<LogEntry> entries;
    DoneFn done;
    std::function<void()> control;  // runs on the writer instead of writing
  };
  explicit DurableLog(LogOptions options);
  absl::Status Recover();
  absl::StatusOr<std::shared_ptr<Segment>> LoadSealed(uint64_t seq);
  void Run();
  void WriteGroup(std::vector<Pending>& group);
  void Maintain(absl::Time now);
  absl::Status Rotate();
  void EnforceRetention(absl::Time now);
  absl::Status Sync();
  bool ContainsLocked(std::string_view uid, uint64_t hash) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Snapshot SnapshotLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LogOptions options_;
  std::string dir_, stem_, ext_;
  int lock_fd_ = -1;  // flock()ed for as long as the log is open
  uint64_t cut_bytes_ = 0;

  // Writer thread only.
  uint64_t active_bytes_ = 0;  // written to the active segment
  absl::Time active_started_;  // first write into the active segment
  bool unsynced_ = false;
  absl::Time last_sync_;
  absl::Time last_retention_;

  mutable absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;  // the active segment; changed by the writer under mu_
  uint64_t active_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t visible_ ABSL_GUARDED_BY(mu_) = 0;  // bytes of the active segment readers see
  std::shared_ptr<ActiveIndex> active_index_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Segment>> sealed_ ABSL_GUARDED_BY(mu_);  // oldest first
  absl::flat_hash_set<uint64_t> uid_hashes_ ABSL_GUARDED_BY(mu_);
  uint64_t sealed_records_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sealed_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sealed_index_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t duplicates_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<uint64_t, Listener>> listeners_ ABSL_GUARDED_BY(mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(mu_) = 1;
  std::thread writer_;
};

}  // namespace gourmet::sink
