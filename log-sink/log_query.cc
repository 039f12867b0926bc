#include "log-sink/log_query.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <vector>

#include "log-sink/json_scan.h"

namespace gourmet::sink {
namespace {

using Order = gourmet::v1::QueryRequest::Order;

std::string_view LineAt(std::string_view text, uint64_t offset) {
  if (offset >= text.size()) return {};
  const char* start = text.data() + offset;
  const char* nl = static_cast<const char*>(std::memchr(start, '\n', text.size() - offset));
  return std::string_view(start, nl ? nl - start : text.size() - offset);
}

bool Contains(std::string_view hay, const std::string& needle) {
  return memmem(hay.data(), hay.size(), needle.data(), needle.size()) != nullptr;
}

// Emits up to the limit and counts; false once the query should stop.
class Sink {
 public:
  Sink(const QueryOptions& o, const std::function<bool(std::string_view)>& emit, QueryCounters* c)
      : o_(o), emit_(emit), c_(c) {}

  // Evaluates one line; false when the query is over (limit, emit said stop).
  bool Offer(const Filter& f, std::string_view line) {
    ++c_->evaluated;
    if (!f.Matches(line)) return true;
    return Emit(line);
  }
  bool Emit(std::string_view line) {
    ++c_->matched;
    if (!emit_(line)) return false;
    return o_.limit == 0 || c_->matched < o_.limit;
  }
  bool Cancelled() {
    return o_.cancelled != nullptr && (++tick_ & 1023) == 0 &&
           o_.cancelled->load(std::memory_order_relaxed);
  }
  bool CancelledNow() const {
    return o_.cancelled != nullptr && o_.cancelled->load(std::memory_order_relaxed);
  }

 private:
  const QueryOptions& o_;
  const std::function<bool(std::string_view)>& emit_;
  QueryCounters* c_;
  uint32_t tick_ = 0;
};

bool Overlaps(const SegmentRef& s, const Filter& f) {
  return s.count > 0 && !s.text().empty() && s.max_ts_us >= f.from_us() && s.min_ts_us < f.to_us();
}

// Lookup by uid or community_id: few lines, sorted here.
absl::Status RunKeyLookup(const Snapshot& snap, const Filter& f, const QueryOptions& o, Sink& sink,
                          QueryCounters* c) {
  const bool by_uid = !f.uid().empty();
  const uint64_t h = KeyHash(by_uid ? f.uid() : f.community_id());
  struct Hit {
    int64_t ts;
    uint32_t seg;
    uint64_t off;
  };
  std::vector<Hit> hits;
  for (uint32_t i = 0; i < snap.segments.size(); ++i) {
    const SegmentRef& s = snap.segments[i];
    if (!Overlaps(s, f)) continue;
    ++c->segments;
    std::vector<uint64_t> offs;
    if (s.index) {
      offs = LookupKey(by_uid ? s.index->uids() : s.index->cids(), h);
    } else if (s.active_index) {
      offs = by_uid ? s.active_index->FindUid(h, s.text().size())
                    : s.active_index->FindCid(h, s.text().size());
    }
    for (uint64_t off : offs) {
      const std::string_view line = LineAt(s.text(), off);
      ++c->evaluated;
      if (f.Matches(line)) hits.push_back({LineTs(line), i, off});
    }
    if (sink.CancelledNow()) return absl::CancelledError("query cancelled");
  }
  auto log_order = [](const Hit& a, const Hit& b) {
    return a.seg != b.seg ? a.seg < b.seg : a.off < b.off;
  };
  if (o.order == gourmet::v1::QueryRequest::LOG) {
    std::sort(hits.begin(), hits.end(), log_order);
  } else {
    const bool desc = o.order == gourmet::v1::QueryRequest::TS_DESC;
    std::sort(hits.begin(), hits.end(), [&](const Hit& a, const Hit& b) {
      if (a.ts != b.ts) return desc ? a.ts > b.ts : a.ts < b.ts;
      return desc ? log_order(b, a) : log_order(a, b);
    });
  }
  for (const Hit& hit : hits) {
    if (!sink.Emit(LineAt(snap.segments[hit.seg].text(), hit.off))) break;
  }
  return absl::OkStatus();
}

// Every line of `text` that passes the filter, in write order.
bool ScanText(std::string_view text, const Filter& f, Sink& sink) {
  const char* p = text.data();
  const char* end = p + text.size();
  const std::string& needle = f.needle();
  if (!needle.empty()) {
    while (p < end) {
      const char* hit = static_cast<const char*>(memmem(p, end - p, needle.data(), needle.size()));
      if (hit == nullptr) return true;
      const char* nl_before = static_cast<const char*>(memrchr(p, '\n', hit - p));
      const char* start = nl_before ? nl_before + 1 : p;
      const char* nl = static_cast<const char*>(std::memchr(hit, '\n', end - hit));
      const char* stop = nl ? nl : end;
      if (!sink.Offer(f, std::string_view(start, stop - start))) return false;
      if (sink.Cancelled()) return false;
      p = stop + 1;
    }
    return true;
  }
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* stop = nl ? nl : end;
    if (!sink.Offer(f, std::string_view(p, stop - p))) return false;
    if (sink.Cancelled()) return false;
    p = stop + 1;
  }
  return true;
}

// The sorted (ts, offset) entries of `s` with ts in the filter's range.
struct TsCursor {
  const TsEntry* begin = nullptr;
  const TsEntry* end = nullptr;
  std::vector<TsEntry> owned;  // the active segment's, copied and sorted
  uint32_t seg = 0;
};

TsCursor RangeOf(const SegmentRef& s, const Filter& f, uint32_t seg) {
  TsCursor c;
  c.seg = seg;
  if (s.index) {
    auto ts = s.index->ts();
    c.begin = std::lower_bound(ts.begin(), ts.end(), TsEntry{f.from_us(), 0});
    c.end = f.to_us() == INT64_MAX ? ts.end()
                                   : std::lower_bound(c.begin, ts.end(), TsEntry{f.to_us(), 0});
  } else if (s.active_index) {
    c.owned = s.active_index->TsRange(f.from_us(), f.to_us(), s.text().size());
    c.begin = c.owned.data();
    c.end = c.owned.data() + c.owned.size();
  }
  return c;
}

absl::Status RunLogOrder(const Snapshot& snap, const Filter& f, Sink& sink, QueryCounters* c) {
  const bool bounded = f.from_us() != INT64_MIN || f.to_us() != INT64_MAX;
  for (uint32_t i = 0; i < snap.segments.size(); ++i) {
    const SegmentRef& s = snap.segments[i];
    if (!Overlaps(s, f)) continue;
    ++c->segments;
    bool more = true;
    if (bounded) {
      TsCursor r = RangeOf(s, f, i);
      const uint64_t n = r.end - r.begin;
      if (n * 8 < s.count) {
        // A small part of the segment: read just those lines, in write order.
        std::vector<uint64_t> offs;
        offs.reserve(n);
        for (const TsEntry* e = r.begin; e != r.end; ++e) offs.push_back(e->offset);
        std::sort(offs.begin(), offs.end());
        for (uint64_t off : offs) {
          if (!(more = sink.Offer(f, LineAt(s.text(), off)))) break;
        }
        if (!more) break;
        continue;
      }
    }
    if (!ScanText(s.text(), f, sink)) break;
  }
  if (sink.CancelledNow()) return absl::CancelledError("query cancelled");
  return absl::OkStatus();
}

absl::Status RunTsOrder(const Snapshot& snap, const Filter& f, bool desc, Sink& sink,
                        QueryCounters* c) {
  std::vector<TsCursor> cursors;
  for (uint32_t i = 0; i < snap.segments.size(); ++i) {
    const SegmentRef& s = snap.segments[i];
    if (!Overlaps(s, f)) continue;
    // A segment without the needle anywhere has no match: skip it at memmem speed.
    if (!f.needle().empty() && !Contains(s.text(), f.needle())) continue;
    ++c->segments;
    TsCursor cur = RangeOf(s, f, i);
    if (cur.begin != cur.end) cursors.push_back(std::move(cur));
  }
  // pos[k]: the next entry of cursor k (from the back when descending).
  std::vector<const TsEntry*> pos(cursors.size());
  for (size_t k = 0; k < cursors.size(); ++k) pos[k] = desc ? cursors[k].end - 1 : cursors[k].begin;
  auto key = [&](size_t k) { return pos[k]->ts_us; };
  auto later = [&](size_t a, size_t b) {  // heap order: the top is the next to emit
    if (key(a) != key(b)) return desc ? key(a) < key(b) : key(a) > key(b);
    return desc ? a < b : a > b;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t k = 0; k < cursors.size(); ++k) heap.push(k);
  const std::string& needle = f.needle();
  while (!heap.empty()) {
    const size_t k = heap.top();
    heap.pop();
    const TsEntry* e = pos[k];
    const std::string_view line = LineAt(snap.segments[cursors[k].seg].text(), e->offset);
    if (needle.empty() || Contains(line, needle)) {
      if (!sink.Offer(f, line)) break;
    }
    if (sink.Cancelled()) break;
    if (desc) {
      if (e != cursors[k].begin) {
        pos[k] = e - 1;
        heap.push(k);
      }
    } else if (e + 1 != cursors[k].end) {
      pos[k] = e + 1;
      heap.push(k);
    }
  }
  if (sink.CancelledNow()) return absl::CancelledError("query cancelled");
  return absl::OkStatus();
}

}  // namespace

int64_t LineTs(std::string_view line) {
  int64_t ts = 0;
  json::ForEachMember(line, [&ts](std::string_view key, const json::Value& v) {
    if (key != "ts") return false;
    if (v.kind == json::Kind::kNumber) json::ParseMicros(v.text, &ts);
    return true;
  });
  return ts;
}

absl::Status RunQuery(const Snapshot& snap, const Filter& filter, const QueryOptions& options,
                      const std::function<bool(std::string_view)>& emit, QueryCounters* counters) {
  QueryCounters local;
  QueryCounters* c = counters ? counters : &local;
  Sink sink(options, emit, c);
  if (!filter.uid().empty() || !filter.community_id().empty())
    return RunKeyLookup(snap, filter, options, sink, c);
  switch (options.order) {
    case gourmet::v1::QueryRequest::LOG:
      return RunLogOrder(snap, filter, sink, c);
    case gourmet::v1::QueryRequest::TS_DESC:
      return RunTsOrder(snap, filter, true, sink, c);
    default:
      return RunTsOrder(snap, filter, false, sink, c);
  }
}

}  // namespace gourmet::sink
