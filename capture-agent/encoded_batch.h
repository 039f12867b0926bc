// The agent's side of the Analyze stream: connections encoded once into the
// wire form of gourmet.v1.ConnectionBatch, their payload referenced, not
// copied. Each payload block becomes one reference-counted gRPC slice that
// gRPC writes to the socket straight from the block; the block goes back to
// the pool when the last reference is gone (after the ack, or after the
// final write, whichever is later). Analyzers parse the bytes as an ordinary
// ConnectionBatch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "capture-agent/flow_table.h"
#include "gourmet/v1/analyzer.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // BatchAck is read as a protobuf message
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace gourmet::capture {

// One connection as field 2 (connections) of a ConnectionBatch.
class EncodedConnection {
 public:
  // Takes the payload's blocks; a payload piece shorter than `copy_below`
  // is copied in with the framing instead of becoming its own slice.
  static EncodedConnection Encode(FinishedConnection&& c, size_t copy_below = 512);

  size_t size() const { return size_; }  // encoded bytes, framing included
  const std::vector<grpc::Slice>& slices() const { return slices_; }

 private:
  std::vector<grpc::Slice> slices_;
  size_t size_ = 0;
};

// A ConnectionBatch in wire form; batch_id and attempt are encoded when the
// batch is written, as the sender sets them late.
class EncodedBatch {
 public:
  uint64_t batch_id() const { return batch_id_; }
  void set_batch_id(uint64_t id) { batch_id_ = id; }
  uint32_t attempt() const { return attempt_; }
  void set_attempt(uint32_t a) { attempt_ = a; }

  void Add(EncodedConnection&& c) {
    bytes_ += c.size();
    connections_.push_back(std::move(c));
  }
  int connections_size() const { return static_cast<int>(connections_.size()); }
  // Moves connections [from, end) out, leaving the first `from`.
  std::vector<EncodedConnection> SplitOff(int from);
  size_t bytes() const { return bytes_; }

  // The whole message; shares the slices (no payload copy).
  grpc::ByteBuffer ToByteBuffer() const;

 private:
  uint64_t batch_id_ = 0;
  uint32_t attempt_ = 0;
  size_t bytes_ = 0;
  std::vector<EncodedConnection> connections_;
};

// The Analyzer service as the agent calls it: Analyze with pre-encoded
// batches (the generated stub would serialise a ConnectionBatch message).
struct EncodedAnalyzer {
  using Stub = grpc::TemplatedGenericStub<EncodedBatch, gourmet::v1::BatchAck>;
  static std::unique_ptr<Stub> NewStub(std::shared_ptr<grpc::ChannelInterface> channel) {
    return std::make_unique<Stub>(std::move(channel));
  }
  static void StartAnalyze(Stub* stub, grpc::ClientContext* ctx,
                           grpc::ClientBidiReactor<EncodedBatch, gourmet::v1::BatchAck>* r) {
    stub->PrepareBidiStreamingCall(ctx, "/gourmet.v1.Analyzer/Analyze", grpc::StubOptions(), r);
  }
};

}  // namespace gourmet::capture

namespace grpc {

template <>
class SerializationTraits<gourmet::capture::EncodedBatch, void> {
 public:
  static Status Serialize(const gourmet::capture::EncodedBatch& batch, ByteBuffer* out,
                          bool* own_buffer) {
    *out = batch.ToByteBuffer();
    *own_buffer = true;
    return Status::OK;
  }
};

}  // namespace grpc
