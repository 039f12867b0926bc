// Minimal leveled logging to stderr, one line per message, with a timestamp
// and the program name. Services log rarely (start, stop, errors, periodic
// stats), so a mutex per line is fine.
#pragma once

#include <string_view>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace gourmet {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void SetLogProgramName(absl::string_view name);
void SetLogLevel(LogLevel level);
void LogLine(LogLevel level, absl::string_view message);

template <typename... Args>
void LogInfo(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  LogLine(LogLevel::kInfo, absl::StrFormat(fmt, args...));
}
template <typename... Args>
void LogWarning(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  LogLine(LogLevel::kWarning, absl::StrFormat(fmt, args...));
}
template <typename... Args>
void LogError(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  LogLine(LogLevel::kError, absl::StrFormat(fmt, args...));
}
template <typename... Args>
void LogDebug(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  LogLine(LogLevel::kDebug, absl::StrFormat(fmt, args...));
}

}  // namespace gourmet
