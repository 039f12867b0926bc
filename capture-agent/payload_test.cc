#include "capture-agent/payload.h"

#include <sys/mman.h>

#include <cstdio>
#include <string>
#include <vector>

#include "capture-agent/test_packets.h"
#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

using testing::PatternBytes;

void Append(Payload& p, int dir, const std::string& s, uint64_t gap = 0, bool merge = true,
            int64_t ts = 1) {
  p.Append(dir, ts, reinterpret_cast<const uint8_t*>(s.data()), s.size(), gap, merge);
}

TEST(PayloadTest, MergesInOrderBytesOfOneDirection) {
  Payload p;
  Append(p, 0, "GET / ", 0, true, 1);
  Append(p, 0, "HTTP/1.1", 0, true, 2);
  Append(p, 1, "200", 0, true, 3);
  Append(p, 1, "OK", /*gap=*/5, true, 4);  // a gap starts a new chunk
  Append(p, 0, "x", 0, /*merge=*/false, 5);
  ASSERT_EQ(p.chunk_count(), 4u);
  EXPECT_EQ(p.ChunkBytes(0), "GET / HTTP/1.1");
  EXPECT_EQ(p.chunk(0).ts_us, 2);  // the packet that completed it
  EXPECT_EQ(p.chunk(1).dir, 1);
  EXPECT_EQ(p.ChunkBytes(1), "200");
  EXPECT_EQ(p.chunk(2).gap_before, 5u);
  EXPECT_EQ(p.ChunkBytes(2), "OK");
  EXPECT_EQ(p.ChunkBytes(3), "x");
  EXPECT_EQ(p.size(), 14u + 3 + 2 + 1);
}

TEST(PayloadTest, ChunksSpanBlocksAndBlocksGrow) {
  Payload p;
  const std::string big = PatternBytes(300000, 'a');
  // In segment-sized appends, as TCP delivers them.
  for (size_t off = 0; off < big.size(); off += 1448) Append(p, 1, big.substr(off, 1448));
  ASSERT_EQ(p.chunk_count(), 1u);
  EXPECT_EQ(p.ChunkBytes(0), big);
  // One large append, after the first.
  const std::string more = PatternBytes(200000, 'q');
  Append(p, 0, more);
  EXPECT_EQ(p.ChunkBytes(1), more);
  // Only the first blocks are small: 300 KB + 200 KB fit in few blocks.
  const std::vector<PayloadBlock*> blocks = p.TakeParts().blocks;
  EXPECT_LE(blocks.size(), 11u);
  EXPECT_EQ(blocks.front()->size_class, 1);  // 1448 bytes do not fit 1 KiB
  EXPECT_EQ(blocks.back()->size_class, PayloadPool::kNumClasses - 1);
  for (PayloadBlock* b : blocks) PayloadPool::Global().Give(b);
}

TEST(PayloadTest, BlocksReturnToThePoolAndAreReused) {
  const uint64_t before = PayloadPool::Global().stats().in_use_bytes;
  {
    Payload p;
    Append(p, 0, PatternBytes(100, 'z'));
    EXPECT_EQ(PayloadPool::Global().stats().in_use_bytes, before + 1024);
    Payload moved = std::move(p);
    EXPECT_EQ(moved.ChunkBytes(0), PatternBytes(100, 'z'));
    EXPECT_EQ(p.chunk_count(), 0u);
  }
  EXPECT_EQ(PayloadPool::Global().stats().in_use_bytes, before);
  // A warm pool serves from its free list: no new address space.
  const uint64_t reserved = PayloadPool::Global().stats().reserved_bytes;
  for (int i = 0; i < 100; ++i) {
    Payload p;
    Append(p, 0, PatternBytes(200000, 'w'));
  }
  const uint64_t after_first = PayloadPool::Global().stats().reserved_bytes;
  for (int i = 0; i < 100; ++i) {
    Payload p;
    Append(p, 0, PatternBytes(200000, 'w'));
  }
  EXPECT_EQ(PayloadPool::Global().stats().reserved_bytes, after_first);
  EXPECT_LE(after_first - reserved, 64u << 20);
}

// Resident pages of [p, p + n), by mincore().
size_t ResidentPages(const void* p, size_t n) {
  std::vector<unsigned char> vec(n / 4096);
  if (mincore(const_cast<void*>(p), n, vec.data()) != 0) return n / 4096;
  size_t resident = 0;
  for (unsigned char v : vec) resident += v & 1;
  return resident;
}

TEST(PayloadTest, TrimGivesFreePagesBackAndBlocksStayUsable) {
  PayloadPool& pool = PayloadPool::Global();
  std::vector<PayloadBlock*> blocks;
  for (int i = 0; i < 16; ++i) {
    Payload p;
    Append(p, 0, PatternBytes(1 << 20, 'm'));
    for (PayloadBlock* b : p.TakeParts().blocks)
      if (b->used == b->capacity() && b->size_class == PayloadPool::kNumClasses - 1) {
        blocks.push_back(b);
      } else {
        pool.Give(b);
      }
  }
  ASSERT_GE(blocks.size(), 200u);
  for (PayloadBlock* b : blocks) {
    ASSERT_EQ(ResidentPages(b, 65536), 16u);
    pool.Give(b);
  }
  const uint64_t free_before = pool.stats().free_bytes;
  pool.Trim(0);
  const PayloadPoolStats after = pool.stats();
  EXPECT_GE(after.released_bytes, blocks.size() * 65536);
  EXPECT_EQ(after.free_bytes, free_before);  // still there to be reused
  // Only the page holding the free-list link stays resident.
  for (PayloadBlock* b : blocks) EXPECT_LE(ResidentPages(b, 65536), 1u);
  // Released blocks come back zeroed by the kernel and fully writable.
  Payload p;
  Append(p, 1, PatternBytes(1 << 20, 'r'));
  EXPECT_EQ(p.ChunkBytes(0), PatternBytes(1 << 20, 'r'));
  EXPECT_LT(pool.stats().released_bytes, after.released_bytes);
}

TEST(PayloadTest, SharedBytesAreReferencedNotCopied) {
  const std::string file = PatternBytes(10000, 'f');  // stands for a mapped pcap
  const auto* base = reinterpret_cast<const uint8_t*>(file.data());
  const SharedBytesRef shared(new SharedBytes{base, file.size()});
  const uint64_t in_use = PayloadPool::Global().stats().in_use_bytes;
  Payload p;
  p.Append(0, 1, base + 100, 50, 0, true, &shared);
  p.Append(0, 2, base + 150, 30, 0, true, &shared);  // continues the record: one piece
  p.Append(1, 3, base + 400, 20, 0, true, &shared);
  const std::string copied = "copied";
  Append(p, 1, copied);  // no shared bytes: into a block
  EXPECT_EQ(shared.use_count(), 2);
  EXPECT_EQ(PayloadPool::Global().stats().in_use_bytes, in_use + 1024);
  ASSERT_EQ(p.chunk_count(), 2u);
  EXPECT_EQ(p.ChunkBytes(0), file.substr(100, 80));
  EXPECT_EQ(p.ChunkBytes(1), file.substr(400, 20) + copied);
  Payload::Parts parts = p.TakeParts();
  ASSERT_EQ(parts.pieces.size(), 3u);
  EXPECT_EQ(parts.pieces[0].data, base + 100);
  EXPECT_EQ(parts.pieces[0].len, 80u);
  EXPECT_EQ(parts.pieces[0].block, Payload::kShared);
  EXPECT_EQ(parts.pieces[2].block, 0);
  EXPECT_EQ(parts.shared, shared);
  for (PayloadBlock* b : parts.blocks) PayloadPool::Global().Give(b);
  parts.shared.reset();
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(PayloadTest, ForEachPieceCoversARangeAcrossBlocks) {
  Payload p;
  const std::string s = PatternBytes(70000, 'k');
  Append(p, 0, s);
  std::string got;
  int pieces = 0;
  p.ForEachPiece(1000, 68000, [&](const uint8_t* b, size_t n) {
    got.append(reinterpret_cast<const char*>(b), n);
    ++pieces;
  });
  EXPECT_EQ(got, s.substr(1000, 68000));
  EXPECT_GE(pieces, 2);
}

}  // namespace
}  // namespace gourmet::capture
