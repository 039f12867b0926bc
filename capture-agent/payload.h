// Connection payload storage: reassembled bytes are copied once, into
// fixed-size blocks from a process-wide pool, and leave the agent by
// reference (the exporter hands the blocks to gRPC as slices). Blocks are
// recycled, so a warm agent neither reallocates nor page-faults per payload.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gourmet::capture {

// A block of payload bytes; its header sits in front of the bytes.
struct PayloadBlock {
  PayloadBlock* next = nullptr;  // free list link
  uint32_t size_class = 0;
  uint32_t used = 0;  // bytes filled
  uint8_t* bytes() { return reinterpret_cast<uint8_t*>(this + 1); }
  const uint8_t* bytes() const { return reinterpret_cast<const uint8_t*>(this + 1); }
  uint32_t capacity() const;
};

struct PayloadPoolStats {
  uint64_t reserved_bytes = 0;  // address space taken from the kernel
  uint64_t in_use_bytes = 0;    // blocks handed out and not yet returned
  uint64_t peak_in_use_bytes = 0;
  uint64_t free_bytes = 0;      // blocks waiting for reuse
  uint64_t released_bytes = 0;  // of those, blocks whose pages went back to the kernel
};

// The pool of payload blocks, carved in 64 KiB slabs from large reservations
// of address space. Blocks are never unmapped: a freed block waits, warm, for
// reuse, since a fresh page costs a fault and a zeroing. A background thread
// faults the pages just ahead of the carving point in, so that the capture
// thread does not stall on them when the pool grows. Trim() gives the pages of
// free 64 KiB blocks beyond a reserve back to the kernel (MADV_DONTNEED),
// keeping their addresses, so memory falls some time after a burst. Taking a
// block locks (once per block, never per packet); giving one back does not.
class PayloadPool {
 public:
  // Block sizes, smallest first; a connection's blocks grow through them.
  static constexpr uint32_t kClassSizes[] = {1024, 8192, 65536};
  static constexpr int kNumClasses = 3;

  // The process-wide pool; lives until exit, as blocks may be released by
  // gRPC threads after everything else is gone.
  static PayloadPool& Global();

  // A block of class `size_class`, empty. Aborts when the kernel has no memory.
  PayloadBlock* Take(int size_class);
  // Returns a block; any thread.
  void Give(PayloadBlock* b);
  // Releases the pages of free 64 KiB blocks beyond `keep_bytes` of them.
  void Trim(uint64_t keep_bytes);
  PayloadPoolStats stats();

 private:
  PayloadPool() = default;
  void* Carve(size_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FaultAhead();  // the background thread
  void CollectReturned(int size_class) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  PayloadBlock* free_[kNumClasses] ABSL_GUARDED_BY(mu_) = {};  // warm
  PayloadBlock* cold_ ABSL_GUARDED_BY(mu_) = nullptr;          // largest class, pages returned
  // Given back and not yet collected into free_ (a lock-free stack each).
  std::atomic<PayloadBlock*> returned_[kNumClasses] = {};
  std::atomic<uint64_t> returned_bytes_{0};
  uint8_t* arena_ ABSL_GUARDED_BY(mu_) = nullptr;  // carving position
  uint8_t* arena_end_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint8_t* faulted_ ABSL_GUARDED_BY(mu_) = nullptr;  // [arena_, faulted_) is faulted in
  bool faulting_ ABSL_GUARDED_BY(mu_) = false;       // FaultAhead() is running
  uint64_t warm_free_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  PayloadPoolStats stats_ ABSL_GUARDED_BY(mu_);
};

// Bytes that outlive the packets pointing into them, such as a pcap file
// mapped into memory: a connection's payload may refer to them instead of
// copying. Whoever holds a reference keeps them mapped.
struct SharedBytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};
using SharedBytesRef = std::shared_ptr<const SharedBytes>;

// The payload of one connection: runs of bytes ("chunks") of either
// direction in arrival order, back to back. The bytes are pieces: copies in
// the connection's own blocks, or references into SharedBytes that the
// packets came from (no copy at all).
class Payload {
 public:
  struct Chunk {
    uint64_t offset = 0;  // into the stored bytes of the whole connection
    uint64_t len = 0;
    int64_t ts_us = 0;  // time of the packet that completed the chunk
    uint64_t gap_before = 0;
    uint8_t dir = 0;  // 0 originator, 1 responder
  };
  // A contiguous run of stored bytes.
  struct Piece {
    const uint8_t* data;
    uint32_t len;
    int32_t block;  // index into the blocks, or kShared
  };
  static constexpr int32_t kShared = -1;

  // What an encoder takes over: pieces in order, the blocks they point
  // into (each filled to `used`), and the shared bytes, if any.
  struct Parts {
    std::vector<Piece> pieces;
    std::vector<PayloadBlock*> blocks;
    SharedBytesRef shared;
  };

  Payload() = default;
  Payload(Payload&& o) noexcept { *this = std::move(o); }
  Payload& operator=(Payload&& o) noexcept;
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;
  ~Payload() { Release(); }

  // Appends `len` bytes of direction `dir`. With `merge`, bytes that follow
  // the last chunk of the same direction without a gap extend it. With
  // `shared` (the bytes lie in *shared), they are referred to, not copied.
  void Append(int dir, int64_t ts_us, const uint8_t* data, uint64_t len, uint64_t gap_before,
              bool merge, const SharedBytesRef* shared = nullptr);

  // Every chunk, the open one included.
  size_t chunk_count() const { return chunks_.size() + (has_open_ ? 1 : 0); }
  Chunk chunk(size_t i) const { return i < chunks_.size() ? chunks_[i] : open_; }
  uint64_t size() const { return size_; }

  // Calls f(const uint8_t* p, size_t n) for the stored bytes
  // [offset, offset + len), which may span pieces, in order.
  template <typename F>
  void ForEachPiece(uint64_t offset, uint64_t len, F&& f) const;
  // The bytes of chunk i as one string (tests, tools).
  std::string ChunkBytes(size_t i) const;

  // Hands the stored bytes over; the chunk list stays readable.
  Parts TakeParts();
  // Returns the blocks to the pool and drops the shared reference.
  void Release();

 private:
  void Grow(uint64_t need);
  void AddPiece(const uint8_t* data, uint64_t len, int32_t block);

  std::vector<Chunk> chunks_;  // closed chunks
  Chunk open_;                 // the chunk being extended, if has_open_
  bool has_open_ = false;
  uint64_t size_ = 0;
  std::vector<Piece> pieces_;
  std::vector<PayloadBlock*> blocks_;
  PayloadBlock* tail_ = nullptr;
  SharedBytesRef shared_;
};

template <typename F>
void Payload::ForEachPiece(uint64_t offset, uint64_t len, F&& f) const {
  uint64_t start = 0;
  for (const Piece& p : pieces_) {
    if (len == 0) return;
    const uint64_t end = start + p.len;
    if (offset < end) {
      const uint64_t n = std::min<uint64_t>(len, end - offset);
      f(p.data + (offset - start), static_cast<size_t>(n));
      offset += n;
      len -= n;
    }
    start = end;
  }
}

}  // namespace gourmet::capture
