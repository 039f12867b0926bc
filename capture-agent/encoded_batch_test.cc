#include "capture-agent/encoded_batch.h"

#include <string>

#include "capture-agent/test_packets.h"
#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

using testing::PatternBytes;

// A connection with small and large chunks in both directions, a gap, and
// chunks that straddle blocks.
FinishedConnection Sample(const std::string& uid) {
  FinishedConnection c;
  c.record.set_uid(uid);
  c.record.set_history("ShADadFf");
  c.record.mutable_orig()->set_addr(std::string("\x0a\x00\x00\x01", 4));
  c.record.mutable_orig()->set_port(40000);
  c.record.mutable_orig_stats()->set_pkts(12);
  c.record.add_weirds("retransmission_inconsistency");
  auto add = [&](int dir, const std::string& s, uint64_t gap, int64_t ts) {
    c.payload.Append(dir, ts, reinterpret_cast<const uint8_t*>(s.data()), s.size(), gap, true);
  };
  add(0, "GET / HTTP/1.1\r\n\r\n", 0, 1700000000000001);
  add(1, PatternBytes(100000, 'a'), 0, 1700000000000002);
  add(1, PatternBytes(3000, 'b'), /*gap=*/1448, 1700000000000003);
  add(0, PatternBytes(700, 'c'), 0, -5);  // negative times encode as protobuf int64 does
  add(1, "", 0, 7);
  return c;
}

// The same connection as the generated code would serialise it.
v1::Connection Expected(const std::string& uid) { return ToProto(Sample(uid)); }

std::string Flatten(const grpc::ByteBuffer& buf) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buf.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

TEST(EncodedBatchTest, ParsesAsTheConnectionBatchMessage) {
  EncodedBatch batch;
  batch.Add(EncodedConnection::Encode(Sample("C1")));
  batch.Add(EncodedConnection::Encode(Sample("C2"), /*copy_below=*/0));  // every piece a slice
  batch.Add(EncodedConnection::Encode(FinishedConnection{}));            // empty record
  batch.set_batch_id(77);
  batch.set_attempt(2);

  const std::string wire = Flatten(batch.ToByteBuffer());
  EXPECT_EQ(wire.size(), batch.bytes() + 4);  // batch_id and attempt: two bytes each
  v1::ConnectionBatch parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.batch_id(), 77u);
  EXPECT_EQ(parsed.attempt(), 2u);
  ASSERT_EQ(parsed.connections_size(), 3);
  for (int i = 0; i < 2; ++i) {
    const std::string uid = i == 0 ? "C1" : "C2";
    EXPECT_EQ(parsed.connections(i).SerializeAsString(), Expected(uid).SerializeAsString()) << uid;
  }
  EXPECT_EQ(parsed.connections(2).ByteSizeLong(), 0u);
}

TEST(EncodedBatchTest, SharedBytesAreSentFromWhereTheyLie) {
  const std::string file = PatternBytes(200000, 'p');  // stands for a mapped pcap
  const auto* base = reinterpret_cast<const uint8_t*>(file.data());
  const SharedBytesRef shared(new SharedBytes{base, file.size()});
  FinishedConnection c;
  c.record.set_uid("C9");
  c.payload.Append(0, 1, base + 10, 100, 0, true, &shared);  // small: copied into the framing
  for (size_t off = 1000; off < 150000; off += 1448)         // records of a download
    c.payload.Append(1, 2, base + off + 16, 1432, 0, true, &shared);
  const std::string copy0 = file.substr(10, 100);
  std::string copy1;
  int records = 0;
  for (size_t off = 1000; off < 150000; off += 1448, ++records)
    copy1 += file.substr(off + 16, 1432);
  {
    EncodedBatch batch;
    batch.Add(EncodedConnection::Encode(std::move(c)));
    EXPECT_EQ(shared.use_count(), 2);  // the connection's slices hold the bytes
    v1::ConnectionBatch parsed;
    ASSERT_TRUE(parsed.ParseFromString(Flatten(batch.ToByteBuffer())));
    ASSERT_EQ(parsed.connections(0).chunks_size(), 2);
    EXPECT_EQ(parsed.connections(0).chunks(0).data(), copy0);
    EXPECT_EQ(parsed.connections(0).chunks(1).data(), copy1);
    // Each record is its own slice, pointing into the shared bytes.
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(batch.ToByteBuffer().Dump(&slices).ok());
    int into_file = 0;
    for (const auto& sl : slices)
      into_file += sl.begin() >= base && sl.begin() < base + file.size();
    EXPECT_EQ(into_file, records);
  }
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(EncodedBatchTest, PayloadIsSharedNotCopiedAndBlocksComeBack) {
  const uint64_t before = PayloadPool::Global().stats().in_use_bytes;
  {
    EncodedBatch batch;
    batch.Add(EncodedConnection::Encode(Sample("C1")));
    EXPECT_GT(PayloadPool::Global().stats().in_use_bytes, before);
    // The 100 kB chunk is referenced from its blocks, not copied.
    const grpc::ByteBuffer buf = batch.ToByteBuffer();
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(buf.Dump(&slices).ok());
    bool shares_a_block = false;
    for (const auto& s : slices) shares_a_block |= s.size() >= 8000;
    EXPECT_TRUE(shares_a_block);
    // A copy of the buffer (as a resend makes) holds the blocks too.
    EncodedBatch more;
    for (auto& c : batch.SplitOff(0)) more.Add(std::move(c));
    EXPECT_EQ(batch.connections_size(), 0);
    EXPECT_EQ(more.connections_size(), 1);
  }
  EXPECT_EQ(PayloadPool::Global().stats().in_use_bytes, before);
}

TEST(EncodedBatchTest, SplitOffKeepsTheFirstConnections) {
  EncodedBatch batch;
  for (int i = 0; i < 4; ++i) batch.Add(EncodedConnection::Encode(Sample("C" + std::to_string(i))));
  const size_t one = batch.bytes() / 4;
  std::vector<EncodedConnection> rest = batch.SplitOff(1);
  EXPECT_EQ(batch.connections_size(), 1);
  EXPECT_EQ(batch.bytes(), one);
  ASSERT_EQ(rest.size(), 3u);
  EncodedBatch last;
  last.Add(std::move(rest[2]));
  v1::ConnectionBatch parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(last.ToByteBuffer())));
  EXPECT_EQ(parsed.connections(0).uid(), "C3");
}

}  // namespace
}  // namespace gourmet::capture
