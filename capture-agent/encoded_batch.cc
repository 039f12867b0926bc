#include "capture-agent/encoded_batch.h"

#include "grpcpp/impl/grpc_library.h"

namespace gourmet::capture {
namespace {

// Slices need the gRPC library initialised, even before any channel exists.
grpc::internal::GrpcLibraryInitializer g_grpc_library;

// Protobuf wire tags: (field number << 3) | wire type.
constexpr uint8_t kVarint = 0, kLen = 2;
constexpr uint8_t Tag(int field, uint8_t type) { return static_cast<uint8_t>(field << 3 | type); }
constexpr uint8_t kBatchConnections = Tag(2, kLen);
constexpr uint8_t kBatchId = Tag(1, kVarint);
constexpr uint8_t kBatchAttempt = Tag(3, kVarint);
constexpr uint8_t kConnectionChunks = Tag(13, kLen);
constexpr uint8_t kChunkDir = Tag(1, kVarint);
constexpr uint8_t kChunkTs = Tag(2, kVarint);
constexpr uint8_t kChunkData = Tag(3, kLen);
constexpr uint8_t kChunkGap = Tag(4, kVarint);

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// A varint field, omitted when zero as proto3 does.
size_t FieldSize(uint64_t v) { return v ? 1 + VarintSize(v) : 0; }
void PutField(std::string* out, uint8_t tag, uint64_t v) {
  if (!v) return;
  out->push_back(static_cast<char>(tag));
  PutVarint(out, v);
}

size_t ChunkBodySize(const Payload::Chunk& c) {
  return FieldSize(c.dir) + FieldSize(static_cast<uint64_t>(c.ts_us)) + FieldSize(c.gap_before) +
         (c.len ? 1 + VarintSize(c.len) + c.len : 0);
}

void ReleaseBlock(void* block) { PayloadPool::Global().Give(static_cast<PayloadBlock*>(block)); }

}  // namespace

EncodedConnection EncodedConnection::Encode(FinishedConnection&& c, size_t copy_below) {
  const std::string record = c.record.SerializeAsString();
  size_t conn_size = record.size();
  const size_t chunks = c.payload.chunk_count();
  for (size_t i = 0; i < chunks; ++i) {
    const size_t body = ChunkBodySize(c.payload.chunk(i));
    conn_size += 1 + VarintSize(body) + body;
  }

  EncodedConnection out;
  out.size_ = 1 + VarintSize(conn_size) + conn_size;
  std::string pending;  // framing and small pieces, up to the next slice
  pending.reserve(64 + record.size());
  pending.push_back(static_cast<char>(kBatchConnections));
  PutVarint(&pending, conn_size);
  pending += record;

  // One slice per block that is referenced; sub-slices share its count.
  const std::vector<PayloadBlock*> blocks = c.payload.TakeBlocks();
  std::vector<grpc::Slice> block_slices(blocks.size());
  size_t block = 0, block_start = 0;  // the block holding the next piece
  auto emit = [&](uint64_t offset, uint64_t len) {
    while (len > 0) {
      while (offset >= block_start + blocks[block]->used) block_start += blocks[block++]->used;
      const size_t at = offset - block_start;
      const size_t n = std::min<uint64_t>(len, blocks[block]->used - at);
      if (n < copy_below) {
        pending.append(reinterpret_cast<const char*>(blocks[block]->bytes() + at), n);
      } else {
        if (!pending.empty()) {
          out.slices_.emplace_back(pending);
          pending.clear();
        }
        grpc::Slice& whole = block_slices[block];
        if (whole.size() == 0)
          whole = grpc::Slice(blocks[block]->bytes(), blocks[block]->used, &ReleaseBlock,
                              blocks[block]);
        out.slices_.push_back(whole.sub(at, at + n));
      }
      offset += n;
      len -= n;
    }
  };
  for (size_t i = 0; i < chunks; ++i) {
    const Payload::Chunk ch = c.payload.chunk(i);
    pending.push_back(static_cast<char>(kConnectionChunks));
    PutVarint(&pending, ChunkBodySize(ch));
    PutField(&pending, kChunkDir, ch.dir);
    PutField(&pending, kChunkTs, static_cast<uint64_t>(ch.ts_us));
    PutField(&pending, kChunkGap, ch.gap_before);
    if (ch.len) {
      pending.push_back(static_cast<char>(kChunkData));
      PutVarint(&pending, ch.len);
      emit(ch.offset, ch.len);
    }
  }
  if (!pending.empty()) out.slices_.emplace_back(pending);
  // Blocks no slice refers to (all their pieces were copied) go back now;
  // the others when their last sub-slice is released.
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (block_slices[i].size() == 0) ReleaseBlock(blocks[i]);
  }
  return out;
}

std::vector<EncodedConnection> EncodedBatch::SplitOff(int from) {
  std::vector<EncodedConnection> out(std::make_move_iterator(connections_.begin() + from),
                                     std::make_move_iterator(connections_.end()));
  connections_.resize(from);
  bytes_ = 0;
  for (const auto& c : connections_) bytes_ += c.size();
  return out;
}

grpc::ByteBuffer EncodedBatch::ToByteBuffer() const {
  std::vector<grpc::Slice> slices;
  size_t n = 1;
  for (const auto& c : connections_) n += c.slices().size();
  slices.reserve(n);
  // batch_id first, as in the generated serialisation: a peer may read the
  // id without parsing the batch (bench/discard_analyzer does).
  std::string head;
  PutField(&head, kBatchId, batch_id_);
  PutField(&head, kBatchAttempt, attempt_);
  if (!head.empty()) slices.emplace_back(head);
  for (const auto& c : connections_)
    slices.insert(slices.end(), c.slices().begin(), c.slices().end());
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace gourmet::capture
