// sink-load: a load generator for the log sink's tests and benchmarks.
// Streams synthetic records in IngestBatch messages with several batches in
// flight, reconnects and resends what was not acknowledged when the stream
// breaks (the sink was killed), and appends the uids of every acknowledged
// batch to a file, so that a test can check each is in the log after crashes.
//
// It has its own small sender (a synchronous stream, a reader thread for the
// acks) rather than services/reliable_sender.h, so that the tests of the sink
// do not depend on the code of the other services.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "log-sink/test_records.h"
#include "services/config.h"
#include "services/grpc_util.h"

namespace {

constexpr char kUsage[] =
    "usage: sink-load --sink HOST:PORT [--records N] [--batch N] [--in-flight N]\n"
    "                 [--prefix P] [--first N] [--parts a,b] [--acked FILE] [--give-up DURATION]\n"
    "Sends records C<P>...<i> for i in [first, first+records) and appends the uid of each\n"
    "acknowledged record to FILE (one per line). With --parts, each record is sent once per\n"
    "part, in separate batches. Reconnects and resends what was not acknowledged when the\n"
    "stream breaks; gives up after DURATION without a connection (default 60s).\n"
    "Prints records/s. Exit 0 when every batch was acknowledged.\n";

struct Batch {
  gourmet::v1::IngestBatch msg;
  std::string uids;  // one per line, written to the acked file once acknowledged
};

}  // namespace

int main(int argc, char** argv) {
  std::string sink = "127.0.0.1:50052", prefix = "L", acked_path;
  uint64_t records = 100000, batch_size = 256, in_flight = 8, first = 0;
  std::vector<std::string> parts = {"analysis"};
  absl::Duration give_up = absl::Seconds(60);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "sink-load: option '%s' needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    bool ok = true;
    if (a == "--sink") {
      sink = v;
    } else if (a == "--records") {
      ok = absl::SimpleAtoi(v, &records);
    } else if (a == "--batch") {
      ok = absl::SimpleAtoi(v, &batch_size) && batch_size > 0;
    } else if (a == "--in-flight") {
      ok = absl::SimpleAtoi(v, &in_flight) && in_flight > 0;
    } else if (a == "--first") {
      ok = absl::SimpleAtoi(v, &first);
    } else if (a == "--prefix") {
      prefix = v;
    } else if (a == "--parts") {
      parts = absl::StrSplit(v, ',');
    } else if (a == "--acked") {
      acked_path = v;
    } else if (a == "--give-up") {
      ok = gourmet::ParseDurationText(v, &give_up);
    } else {
      std::fprintf(stderr, "sink-load: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "sink-load: bad value '%s' for %s\n", v.c_str(), a.c_str());
      return 2;
    }
  }
  int acked_fd = -1;
  if (!acked_path.empty()) {
    acked_fd = open(acked_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (acked_fd < 0) {
      std::perror(acked_path.c_str());
      return 1;
    }
  }
  // Batches in order: each range of records once per part.
  uint64_t next_record = first;
  size_t next_part = 0;
  uint64_t next_id = 1;
  auto make_batch = [&]() {
    Batch b;
    const uint64_t end = std::min(first + records, next_record + batch_size);
    for (uint64_t i = next_record; i < end; ++i) {
      const std::string uid = gourmet::sink::testing::TestUid(prefix, i);
      *b.msg.add_records() = gourmet::sink::testing::TestRecord(i, uid, parts[next_part]);
      absl::StrAppend(&b.uids, uid, "\n");
    }
    b.msg.set_batch_id(next_id++);
    if (++next_part == parts.size()) {
      next_part = 0;
      next_record = end;
    }
    return b;
  };
  auto channel = gourmet::MakeChannel(sink);
  auto stub = gourmet::v1::LogSink::NewStub(channel);
  absl::Mutex mu;
  std::map<uint64_t, Batch> unacked;  // by batch id, sent or to resend
  uint64_t resent = 0, reconnects = 0;
  const absl::Time t0 = absl::Now();
  absl::Time last_connected = t0;
  for (;;) {
    {
      absl::MutexLock l(&mu);
      if (unacked.empty() && next_record >= first + records) break;
    }
    if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(1)))) {
      if (absl::Now() - last_connected > give_up) {
        std::fprintf(stderr, "sink-load: no connection to %s for %s; giving up\n", sink.c_str(),
                     absl::FormatDuration(give_up).c_str());
        return 1;
      }
      continue;
    }
    last_connected = absl::Now();
    grpc::ClientContext ctx;
    auto stream = stub->Ingest(&ctx);
    bool broken = false;
    std::thread reader([&] {
      gourmet::v1::IngestAck ack;
      while (stream->Read(&ack)) {
        absl::MutexLock l(&mu);
        auto it = unacked.find(ack.batch_id());
        if (it == unacked.end() || !ack.error().empty()) continue;  // an error: resent later
        // One write per batch: a reader of the file sees whole batches.
        if (acked_fd >= 0 && write(acked_fd, it->second.uids.data(), it->second.uids.size()) < 0)
          std::perror("write");
        unacked.erase(it);
      }
      absl::MutexLock l(&mu);
      broken = true;
    });
    // Resend what is not acknowledged, in order, then go on with new batches.
    std::vector<uint64_t> resend;
    {
      absl::MutexLock l(&mu);
      for (const auto& [id, b] : unacked) resend.push_back(id);
    }
    bool ok = true;
    for (uint64_t id : resend) {
      gourmet::v1::IngestBatch msg;
      {
        absl::MutexLock l(&mu);
        auto it = unacked.find(id);
        if (it == unacked.end()) continue;
        msg = it->second.msg;
      }
      ++resent;
      if (!(ok = stream->Write(msg))) break;
    }
    while (ok) {
      gourmet::v1::IngestBatch msg;
      {
        absl::MutexLock l(&mu);
        auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
          return broken || unacked.size() < in_flight;
        };
        mu.Await(absl::Condition(&room));
        if (broken || next_record >= first + records) break;
        Batch b = make_batch();
        msg = b.msg;
        unacked.emplace(b.msg.batch_id(), std::move(b));
      }
      ok = stream->Write(msg);
    }
    // All sent: wait for the acks (or the end of the stream).
    {
      absl::MutexLock l(&mu);
      auto settled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return broken || unacked.empty(); };
      mu.Await(absl::Condition(&settled));
    }
    stream->WritesDone();
    ctx.TryCancel();
    reader.join();
    stream->Finish().IgnoreError();
    bool again;
    {
      absl::MutexLock l(&mu);
      again = !unacked.empty();
    }
    if (again) {
      ++reconnects;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  if (acked_fd >= 0) close(acked_fd);
  std::printf(
      "sink-load: %llu records x %zu parts in %.2f s: %.0f records/s; %llu batches resent, "
      "%llu reconnects\n",
      static_cast<unsigned long long>(records), parts.size(), secs, records * parts.size() / secs,
      static_cast<unsigned long long>(resent), static_cast<unsigned long long>(reconnects));
  return 0;
}
