// Runs a compiled Filter over a Snapshot of the log. It reads as little as
// it can: a uid or community_id query looks its key up in each segment's
// index; a time range skips segments outside it and reads the rest through
// their ts tables; other filters scan the segment text, jumping between
// occurrences of a literal every match must contain (the filter's needle).
// Results come in ts order (a k-way merge of the segments' sorted ts tables,
// so nothing is buffered), newest first, or in the order written.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "gourmet/v1/sink.pb.h"
#include "log-sink/durable_log.h"
#include "log-sink/query.h"

namespace gourmet::sink {

struct QueryOptions {
  gourmet::v1::QueryRequest::Order order = gourmet::v1::QueryRequest::TS;
  uint64_t limit = 0;                            // 0: every match
  const std::atomic<bool>* cancelled = nullptr;  // checked often; stops with CANCELLED
};

struct QueryCounters {
  uint64_t evaluated = 0;  // lines the filter was evaluated on
  uint64_t matched = 0;
  uint64_t segments = 0;  // segments read
};

// Calls emit(line) (no newline) for each match, in order, until the limit;
// emit returns false to stop early.
absl::Status RunQuery(const Snapshot& snap, const Filter& filter, const QueryOptions& options,
                      const std::function<bool(std::string_view)>& emit,
                      QueryCounters* counters = nullptr);

// The ts of a log line in microseconds (0 when it has none).
int64_t LineTs(std::string_view line);

}  // namespace gourmet::sink
