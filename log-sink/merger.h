// Merges the parts of one connection — one per analyzer pool, each a Record
// with its `part` name, some of them resent after failures — into one record
// per uid. A connection is complete when every expected part has arrived;
// one whose window ends first is written with what arrived and the names of
// the missing parts. A resent part is recognised and dropped, but its batch
// is acknowledged only once the record it belongs to is durable.
//
// Pure logic with the clock passed in: the server calls Add for each part
// and Expire from a timer, and writes what they return.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gourmet/v1/sink.pb.h"

namespace gourmet::sink {

// Counts down the records of one ingest batch and runs `done` once, when
// the last is durable (with the first error, if any).
class BatchTracker {
 public:
  BatchTracker(size_t records, std::function<void(const absl::Status&)> done);
  void RecordDone(const absl::Status& st);

 private:
  absl::Mutex mu_;
  size_t remaining_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::function<void(const absl::Status&)> done_;
};

struct MergeConfig {
  std::vector<std::string> parts = {"analysis"};  // expected parts, in merge order
  absl::Duration window = absl::Seconds(10);      // wait this long for the rest
  size_t max_pending = 100000;                    // connections waiting; beyond, the oldest goes
};

// The part name of a record ("" is the analyzer's default, "analysis").
std::string PartName(const gourmet::v1::Record& r);

class Merger {
 public:
  // A record to write, the parts it lacks, and one tracker per part in it
  // (resends included) to notify once it is durable.
  struct Output {
    gourmet::v1::Record record;
    std::vector<std::string> missing;
    std::vector<std::shared_ptr<BatchTracker>> waiters;
  };
  // `written(uid)` says whether the log already has the uid.
  Merger(MergeConfig config, std::function<bool(const std::string&)> written);

  // Adds one part received at `now`; finished records are appended to `out`.
  void Add(gourmet::v1::Record part, std::shared_ptr<BatchTracker> waiter, absl::Time now,
           std::vector<Output>* out);
  // Connections whose window ended by `now`, written with what they have.
  void Expire(absl::Time now, std::vector<Output>* out);
  // When the next window ends (InfiniteFuture when none is open).
  absl::Time NextDeadline() const;
  // Drops everything waiting (shutdown: none of it was acknowledged).
  void Clear();

  size_t pending_parts() const;
  uint64_t duplicate_parts() const;  // resent parts of a connection still waiting
  uint64_t incomplete() const;       // connections written with parts missing
  uint64_t late_parts() const;       // parts of a connection already written incomplete
  uint64_t evicted() const;          // connections written early because of max_pending

 private:
  struct Pending {
    std::vector<gourmet::v1::Record> parts;  // arrival order
    std::vector<std::shared_ptr<BatchTracker>> waiters;
    absl::Time deadline;
  };
  Output Finish(Pending p, bool complete) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Complete(const Pending& p) const;

  const MergeConfig config_;
  const std::function<bool(const std::string&)> written_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Time, std::string>> deadlines_ ABSL_GUARDED_BY(mu_);  // arrival order
  size_t pending_parts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<std::string> recent_incomplete_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> unknown_parts_ ABSL_GUARDED_BY(mu_);  // warned about
  uint64_t duplicate_parts_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t incomplete_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t late_parts_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gourmet::sink
