#include "services/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gourmet {
namespace {

absl::Mutex mu;
std::string& ProgramName() {
  static std::string* name = new std::string("gourmet");
  return *name;
}
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void SetLogProgramName(absl::string_view name) {
  absl::MutexLock l(&mu);
  ProgramName() = std::string(name);
}

void SetLogLevel(LogLevel level) { min_level = static_cast<int>(level); }

void LogLine(LogLevel level, absl::string_view message) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  absl::MutexLock l(&mu);
  absl::FPrintF(stderr, "%s %s %s: %s\n", ts, ProgramName(), LevelName(level), message);
}

}  // namespace gourmet
