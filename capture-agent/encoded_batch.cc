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
void ReleaseShared(void* ref) { delete static_cast<SharedBytesRef*>(ref); }

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

  // One slice per block, and one for the shared bytes, created when first
  // referenced; sub-slices share its count.
  Payload::Parts parts = c.payload.TakeParts();
  // At most a slice per piece, and one of framing before each and at the
  // end; reserved, as growing a vector of slices copies them (not noexcept).
  out.slices_.reserve(parts.pieces.size() + chunks + 2);
  std::vector<grpc::Slice> block_slices(parts.blocks.size());
  grpc::Slice shared_slice;
  auto whole = [&](const Payload::Piece& p) -> grpc::Slice& {
    if (p.block == Payload::kShared) {
      if (shared_slice.size() == 0)
        shared_slice = grpc::Slice(const_cast<uint8_t*>(parts.shared->data), parts.shared->size,
                                   &ReleaseShared, new SharedBytesRef(parts.shared));
      return shared_slice;
    }
    grpc::Slice& s = block_slices[p.block];
    if (s.size() == 0) {
      PayloadBlock* b = parts.blocks[p.block];
      s = grpc::Slice(b->bytes(), b->used, &ReleaseBlock, b);
    }
    return s;
  };
  // Chunks are back to back, so one cursor walks the pieces once.
  size_t piece = 0, at = 0;  // the next byte: pieces[piece].data + at
  auto emit = [&](uint64_t len) {
    while (len > 0) {
      const Payload::Piece& p = parts.pieces[piece];
      const size_t n = std::min<uint64_t>(len, p.len - at);
      if (n < copy_below) {
        pending.append(reinterpret_cast<const char*>(p.data + at), n);
      } else {
        if (!pending.empty()) {
          out.slices_.emplace_back(pending);
          pending.clear();
        }
        grpc::Slice& w = whole(p);
        const size_t from = p.data + at - w.begin();
        out.slices_.push_back(w.sub(from, from + n));
      }
      at += n;
      len -= n;
      if (at == p.len) {
        ++piece;
        at = 0;
      }
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
      emit(ch.len);
    }
  }
  if (!pending.empty()) out.slices_.emplace_back(pending);
  // Blocks no slice refers to (all their pieces were copied) go back now;
  // the others when their last sub-slice is released.
  for (size_t i = 0; i < parts.blocks.size(); ++i) {
    if (block_slices[i].size() == 0) ReleaseBlock(parts.blocks[i]);
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
