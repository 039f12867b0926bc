// A stand-in analyzer host for benchmarks: accepts Analyzer.Analyze streams
// and acknowledges every batch at once without parsing it (only batch_id,
// field 1, is read from the raw bytes), so a capture-agent benchmark
// measures the agent and not the analysis behind it.
#include <cstdio>
#include <deque>

#include "absl/synchronization/mutex.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "services/grpc_util.h"
#include "services/memory.h"
#include "services/signals.h"

namespace {

// Reads the varint of field 1 from the start of a serialized message. The
// received message may be split into slices anywhere, so the first bytes
// are gathered across them.
uint64_t BatchId(const grpc::ByteBuffer& buf) {
  std::vector<grpc::Slice> slices;
  if (!buf.Dump(&slices).ok()) return 0;
  uint8_t head[11];
  size_t n = 0;
  for (const grpc::Slice& s : slices) {
    for (const uint8_t* p = s.begin(); p != s.end() && n < sizeof(head); ++p) head[n++] = *p;
    if (n == sizeof(head)) break;
  }
  if (n == 0 || head[0] != 0x08) return 0;
  uint64_t v = 0;
  for (size_t i = 1, shift = 0; i < n && shift < 64; ++i, shift += 7) {
    v |= uint64_t{static_cast<uint8_t>(head[i] & 0x7f)} << shift;
    if (!(head[i] & 0x80)) break;
  }
  return v;
}

grpc::ByteBuffer Ack(uint64_t id) {
  uint8_t out[11] = {0x08};
  size_t n = 1;
  do {
    out[n++] = static_cast<uint8_t>((id & 0x7f) | (id > 0x7f ? 0x80 : 0));
    id >>= 7;
  } while (id);
  grpc::Slice slice(out, n);
  return grpc::ByteBuffer(&slice, 1);
}

class Stream : public grpc::ServerGenericBidiReactor {
 public:
  Stream() { StartRead(&in_); }
  void OnReadDone(bool ok) override {
    absl::MutexLock l(&mu_);
    if (!ok) {
      done_reading_ = true;
      MaybeFinish();
      return;
    }
    acks_.push_back(Ack(BatchId(in_)));
    Pump();
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (ok) Pump();
    MaybeFinish();
  }
  void OnDone() override { delete this; }

 private:
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || acks_.empty()) return;
    out_ = std::move(acks_.front());
    acks_.pop_front();
    writing_ = true;
    StartWrite(&out_);
  }
  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (done_reading_ && !writing_ && acks_.empty() && !finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }
  absl::Mutex mu_;
  grpc::ByteBuffer in_, out_;
  std::deque<grpc::ByteBuffer> acks_;
  bool writing_ = false, done_reading_ = false, finished_ = false;
};

class Discard : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    return new Stream();
  }
};

}  // namespace

int main(int argc, char** argv) {
  gourmet::TuneAllocatorForPayload();  // batches of payload come and go
  gourmet::BlockTerminationSignals();
  Discard service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(gourmet::kMaxMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, gourmet::kMaxHttp2FrameBytes);
  builder.RegisterCallbackGenericService(&service);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  if (argc > 1) (void)gourmet::WritePortFile(argv[1], port);
  std::printf("%d\n", port);
  std::fflush(stdout);
  gourmet::WaitForTerminationSignal();
  server->Shutdown();
  return 0;
}
