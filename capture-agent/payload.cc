#include "capture-agent/payload.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace gourmet::capture {
namespace {

constexpr size_t kSlab = PayloadPool::kClassSizes[PayloadPool::kNumClasses - 1];
// Address space reserved at a time; pages are committed as blocks are carved.
constexpr size_t kArenaBytes = 1ull << 30;
// How far ahead of the carving point pages are faulted in, and in what steps.
constexpr size_t kFaultAhead = 32ull << 20;
constexpr size_t kFaultStep = 2ull << 20;

uint8_t* MapArena() {
  void* p = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "capture-agent: out of address space for payload blocks (%s)\n",
                 std::strerror(errno));
    std::abort();
  }
  // No MADV_HUGEPAGE: a huge page fault may compact memory first, which
  // measured from 20 ms to 1 s per 400 MiB here; small pages cost a steady
  // 150 ms, and that is paid by FaultAhead(), off the capture thread.
  return static_cast<uint8_t*>(p);
}

}  // namespace

uint32_t PayloadBlock::capacity() const {
  return PayloadPool::kClassSizes[size_class] - sizeof(PayloadBlock);
}

PayloadPool& PayloadPool::Global() {
  static PayloadPool* pool = new PayloadPool();  // never destroyed: see header
  return *pool;
}

// Memory comes in 64 KiB slabs; a slab of a smaller class is split at once.
void* PayloadPool::Carve(size_t size) {
  if (arena_ == arena_end_) {
    arena_ = MapArena();
    arena_end_ = arena_ + kArenaBytes;
    faulted_ = arena_;
    stats_.reserved_bytes += kArenaBytes;
    if (!faulting_) {
      faulting_ = true;
      std::thread([this] { FaultAhead(); }).detach();
    }
  }
  void* out = arena_;
  arena_ += size;
  return out;
}

// Keeps the pages from the carving point to kFaultAhead beyond it faulted
// in. Runs for the life of the process; sleeps while the pool does not grow.
void PayloadPool::FaultAhead() {
  absl::MutexLock l(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(
        +[](PayloadPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
          return p->faulted_ < std::min(p->arena_ + kFaultAhead, p->arena_end_);
        },
        this));
    uint8_t* from = std::max(faulted_, arena_);
    uint8_t* to = std::min(from + kFaultStep, arena_end_);
    uint8_t* const end = arena_end_;
    mu_.Unlock();
    if (madvise(from, to - from, MADV_POPULATE_WRITE) != 0) {
      // Kernels before 5.14: touch the pages instead (the carver may be
      // writing them too; both writes fault the same zero page in).
      for (uint8_t* q = from; q < to; q += 4096) __atomic_fetch_add(q, 0, __ATOMIC_RELAXED);
    }
    mu_.Lock();
    if (arena_end_ == end) faulted_ = std::max(faulted_, to);  // same arena
  }
}

// Blocks given back since the last call join the free lists.
void PayloadPool::CollectReturned(int c) {
  PayloadBlock* b = returned_[c].exchange(nullptr, std::memory_order_acquire);
  while (b) {
    PayloadBlock* next = b->next;
    stats_.in_use_bytes -= kClassSizes[c];
    returned_bytes_.fetch_sub(kClassSizes[c], std::memory_order_relaxed);
    stats_.free_bytes += kClassSizes[c];
    if (c == kNumClasses - 1) warm_free_bytes_ += kSlab;
    b->next = free_[c];
    free_[c] = b;
    b = next;
  }
}

PayloadBlock* PayloadPool::Take(int size_class) {
  absl::MutexLock l(&mu_);
  if (!free_[size_class]) CollectReturned(size_class);
  PayloadBlock* b = free_[size_class];
  if (b) {
    free_[size_class] = b->next;
    stats_.free_bytes -= kClassSizes[size_class];
    if (size_class == kNumClasses - 1) warm_free_bytes_ -= kSlab;
  } else if (size_class == kNumClasses - 1 && cold_) {
    b = cold_;
    cold_ = b->next;
    stats_.free_bytes -= kSlab;
    stats_.released_bytes -= kSlab;
  } else {
    uint8_t* slab = static_cast<uint8_t*>(Carve(kSlab));
    const uint32_t size = kClassSizes[size_class];
    for (size_t off = size; off < kSlab; off += size) {
      auto* extra = new (slab + off) PayloadBlock();
      extra->size_class = size_class;
      extra->next = free_[size_class];
      free_[size_class] = extra;
      stats_.free_bytes += size;
    }
    b = new (slab) PayloadBlock();
  }
  b->next = nullptr;
  b->size_class = size_class;
  b->used = 0;
  stats_.in_use_bytes += kClassSizes[size_class];
  stats_.peak_in_use_bytes =
      std::max(stats_.peak_in_use_bytes,
               stats_.in_use_bytes - returned_bytes_.load(std::memory_order_relaxed));
  return b;
}

// Lock-free: blocks come back from gRPC's threads by the thousand, and a
// mutex shared with the capture thread would make them wait on each other.
void PayloadPool::Give(PayloadBlock* b) {
  const int c = static_cast<int>(b->size_class);
  returned_bytes_.fetch_add(kClassSizes[c], std::memory_order_relaxed);
  b->next = returned_[c].load(std::memory_order_relaxed);
  while (!returned_[c].compare_exchange_weak(b->next, b, std::memory_order_release,
                                             std::memory_order_relaxed)) {
  }
}

void PayloadPool::Trim(uint64_t keep_bytes) {
  absl::MutexLock l(&mu_);
  constexpr int c = kNumClasses - 1;
  CollectReturned(c);
  while (warm_free_bytes_ > keep_bytes && free_[c]) {
    PayloadBlock* b = free_[c];
    free_[c] = b->next;
    warm_free_bytes_ -= kSlab;
    // Only the header's page comes back, when the link is written.
    madvise(b, kSlab, MADV_DONTNEED);
    b = new (b) PayloadBlock();
    b->size_class = c;
    b->next = cold_;
    cold_ = b;
    stats_.released_bytes += kSlab;
  }
}

PayloadPoolStats PayloadPool::stats() {
  absl::MutexLock l(&mu_);
  for (int c = 0; c < kNumClasses; ++c) CollectReturned(c);
  return stats_;
}

Payload& Payload::operator=(Payload&& o) noexcept {
  if (this != &o) {
    Release();
    chunks_ = std::move(o.chunks_);
    open_ = o.open_;
    has_open_ = o.has_open_;
    size_ = o.size_;
    pieces_ = std::move(o.pieces_);
    blocks_ = std::move(o.blocks_);
    tail_ = o.tail_;
    shared_ = std::move(o.shared_);
    o.chunks_.clear();
    o.has_open_ = false;
    o.size_ = 0;
    o.pieces_.clear();
    o.blocks_.clear();
    o.tail_ = nullptr;
  }
  return *this;
}

void Payload::Append(int dir, int64_t ts_us, const uint8_t* data, uint64_t len, uint64_t gap_before,
                     bool merge, const SharedBytesRef* shared) {
  if (len == 0) return;
  if (has_open_ && merge && gap_before == 0 && open_.dir == dir) {
    open_.len += len;
    open_.ts_us = ts_us;
  } else {
    if (has_open_) chunks_.push_back(open_);
    open_ = Chunk{size_, len, ts_us, gap_before, static_cast<uint8_t>(dir)};
    has_open_ = true;
  }
  size_ += len;
  if (shared && *shared && (!shared_ || shared_ == *shared)) {
    if (!shared_) shared_ = *shared;
    AddPiece(data, len, kShared);
    return;
  }
  while (len > 0) {
    if (!tail_ || tail_->used == tail_->capacity()) Grow(len);
    const uint64_t n = std::min<uint64_t>(len, tail_->capacity() - tail_->used);
    uint8_t* to = tail_->bytes() + tail_->used;
    std::memcpy(to, data, n);
    tail_->used += static_cast<uint32_t>(n);
    AddPiece(to, n, static_cast<int32_t>(blocks_.size() - 1));
    data += n;
    len -= n;
  }
}

// Bytes that continue the last piece in the same place extend it: a block
// filling up, or consecutive records of a file.
void Payload::AddPiece(const uint8_t* data, uint64_t len, int32_t block) {
  if (!pieces_.empty()) {
    Piece& last = pieces_.back();
    if (last.block == block && last.data + last.len == data && last.len + len <= UINT32_MAX) {
      last.len += static_cast<uint32_t>(len);
      return;
    }
  }
  // Pieces are at most a block or a packet long, or extended within one.
  pieces_.push_back(Piece{data, static_cast<uint32_t>(len), block});
}

// Blocks grow one class at a time (a one-packet DNS exchange stays in 1 KiB,
// a download soon fills 64 KiB blocks), or straight to a class that fits.
void Payload::Grow(uint64_t need) {
  int c = tail_ ? std::min<int>(tail_->size_class + 1, PayloadPool::kNumClasses - 1) : 0;
  while (c < PayloadPool::kNumClasses - 1 &&
         PayloadPool::kClassSizes[c] - sizeof(PayloadBlock) < need)
    ++c;
  tail_ = PayloadPool::Global().Take(c);
  blocks_.push_back(tail_);
}

std::string Payload::ChunkBytes(size_t i) const {
  const Chunk c = chunk(i);
  std::string out;
  out.reserve(c.len);
  ForEachPiece(c.offset, c.len, [&out](const uint8_t* p, size_t n) {
    out.append(reinterpret_cast<const char*>(p), n);
  });
  return out;
}

Payload::Parts Payload::TakeParts() {
  Parts out{std::move(pieces_), std::move(blocks_), std::move(shared_)};
  pieces_.clear();
  blocks_.clear();
  tail_ = nullptr;
  shared_.reset();
  return out;
}

void Payload::Release() {
  for (PayloadBlock* b : blocks_) PayloadPool::Global().Give(b);
  blocks_.clear();
  pieces_.clear();
  tail_ = nullptr;
  shared_.reset();
}

}  // namespace gourmet::capture
