// The index of one log segment: three tables of (key, byte offset of the
// line) sorted by key — uid hash, community_id hash, and ts — so that uid,
// community_id and time-range queries read only the lines they need.
//
// A sealed segment's index is a file written once next to it (`.idx`, via
// a temporary file, fsync and rename); it is derived data, so a missing or
// damaged one is rebuilt from the segment. The segment being written keeps
// its index in memory (ActiveIndex) and rebuilds it from the file at start.
//
// File layout (host byte order; the file never leaves the machine):
//   IndexHeader (64 bytes)
//   uid table:  count x IndexEntry{hash(uid), offset}          sorted
//   cid table:  count x IndexEntry{hash(community_id), offset} sorted
//   ts table:   count x TsEntry{ts_us, offset}                  sorted
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace gourmet::sink {

// A stable 64-bit hash of a key (it is stored in index files).
uint64_t KeyHash(std::string_view s);

struct IndexEntry {
  uint64_t key;
  uint64_t offset;
  bool operator<(const IndexEntry& o) const {
    return key != o.key ? key < o.key : offset < o.offset;
  }
};

struct TsEntry {
  int64_t ts_us;
  uint64_t offset;
  bool operator<(const TsEntry& o) const {
    return ts_us != o.ts_us ? ts_us < o.ts_us : offset < o.offset;
  }
};

struct IndexHeader {
  char magic[8];
  uint64_t data_bytes;  // size of the segment this index describes
  uint64_t count;
  int64_t min_ts_us;
  int64_t max_ts_us;
  uint64_t checksum;  // of the three tables
  uint64_t reserved[2];
};
static_assert(sizeof(IndexHeader) == 64, "the index header is 64 bytes");

// A read-only mapping of the first `size` bytes of a file.
class MappedFile {
 public:
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Map(int fd, uint64_t size,
                                                               const std::string& what);
  ~MappedFile();
  std::string_view data() const { return {static_cast<const char*>(addr_), size_}; }

 private:
  MappedFile() = default;
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// One segment's index, immutable: either a mapped file or an owned buffer.
class SegmentIndex {
 public:
  // Maps `path` and checks it describes a segment of `data_bytes` bytes.
  static absl::StatusOr<std::unique_ptr<SegmentIndex>> Open(const std::string& path,
                                                            uint64_t data_bytes);
  // Serializes sorted tables into the file format (header included).
  static std::string Serialize(std::vector<IndexEntry> uids, std::vector<IndexEntry> cids,
                               std::vector<TsEntry> ts, uint64_t data_bytes);
  // Wraps serialized bytes (when the file could not be written).
  static std::unique_ptr<SegmentIndex> FromBuffer(std::string bytes);
  // Writes serialized bytes to `path` durably: a temporary file, fsync, rename.
  static absl::Status WriteFile(const std::string& path, std::string_view bytes);

  const IndexHeader& header() const { return *header_; }
  absl::Span<const IndexEntry> uids() const { return uids_; }
  absl::Span<const IndexEntry> cids() const { return cids_; }
  absl::Span<const TsEntry> ts() const { return ts_; }
  uint64_t file_bytes() const;

 private:
  SegmentIndex() = default;
  absl::Status Attach(std::string_view bytes, uint64_t data_bytes);
  std::shared_ptr<const MappedFile> mapped_;
  std::string owned_;
  const IndexHeader* header_ = nullptr;
  absl::Span<const IndexEntry> uids_, cids_;
  absl::Span<const TsEntry> ts_;
};

// Offsets in a sorted table whose key equals `key`.
std::vector<uint64_t> LookupKey(absl::Span<const IndexEntry> table, uint64_t key);

// The index of the segment being written. The writer thread adds entries;
// queries read them under the same lock.
class ActiveIndex {
 public:
  void Add(uint64_t uid_hash, uint64_t cid_hash, int64_t ts_us, uint64_t offset);
  // Offsets below `limit` whose uid / community_id hash equals `hash`.
  std::vector<uint64_t> FindUid(uint64_t hash, uint64_t limit) const;
  std::vector<uint64_t> FindCid(uint64_t hash, uint64_t limit) const;
  // Entries below `limit` with ts in [from, to), sorted by ts.
  std::vector<TsEntry> TsRange(int64_t from, int64_t to, uint64_t limit) const;
  uint64_t count() const;
  int64_t min_ts() const;
  int64_t max_ts() const;
  // The sorted file form of the index, for sealing the segment.
  std::string Serialize(uint64_t data_bytes) const;

 private:
  mutable absl::Mutex mu_;
  std::vector<IndexEntry> uids_ ABSL_GUARDED_BY(mu_);  // in write order
  std::vector<IndexEntry> cids_ ABSL_GUARDED_BY(mu_);
  std::vector<TsEntry> ts_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint32_t> uid_pos_ ABSL_GUARDED_BY(mu_);  // first position
  bool uid_collision_ ABSL_GUARDED_BY(mu_) = false;
  int64_t min_ts_ ABSL_GUARDED_BY(mu_) = INT64_MAX;
  int64_t max_ts_ ABSL_GUARDED_BY(mu_) = INT64_MIN;
};

}  // namespace gourmet::sink
