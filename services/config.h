// Command-line flags layered over a YAML config file. Every flag names the
// YAML key it overrides, so `--foo` and `foo:` in the file are one setting and
// --help lists both. Typed reads name the key in every error.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "yaml-cpp/yaml.h"

namespace gourmet {

struct FlagSpec {
  std::string name;        // long name, e.g. "read-file"
  char short_name = 0;     // e.g. 'r'; 0 for none
  std::string key;         // dotted YAML key it sets, e.g. "source.file"
  std::string value_name;  // e.g. "FILE"; empty for an on/off switch
  std::string help;
};

struct ParsedArgs {
  YAML::Node config;  // the file (if -c) with the flags applied on top
  std::vector<std::string> positional;
  bool help = false;
};

// Parses argv[first..]. `-c/--config FILE` loads a YAML file first; other
// flags override its keys. `-h/--help` sets `help`.
absl::StatusOr<ParsedArgs> ParseArgs(int argc, char** argv, int first,
                                     const std::vector<FlagSpec>& flags);

// The --help text: synopsis, description, then each flag with its key.
std::string Usage(absl::string_view synopsis, absl::string_view description,
                  const std::vector<FlagSpec>& flags);

// Typed, validated reads of a YAML config. Errors accumulate; Finish()
// returns the first one, or names keys that nothing read (typos).
class ConfigReader {
 public:
  explicit ConfigReader(YAML::Node root) : root_(std::move(root)) {}

  std::string String(absl::string_view key, absl::string_view def);
  int64_t Int(absl::string_view key, int64_t def, int64_t min, int64_t max);
  bool Bool(absl::string_view key, bool def);
  // "250ms", "30s", "5m", "1h" or a plain number of seconds.
  absl::Duration Duration(absl::string_view key, absl::Duration def);
  // A YAML sequence, or one comma-separated string.
  std::vector<std::string> StringList(absl::string_view key);
  // The raw subtree (may be undefined); the whole subtree counts as read.
  YAML::Node Node(absl::string_view key);

  // Records an error about `key` (for checks done by the caller).
  void Fail(absl::string_view key, absl::string_view message);
  absl::Status Finish();

 private:
  YAML::Node Lookup(absl::string_view key);
  absl::Status first_error_;
  YAML::Node root_;
  std::set<std::string> read_;
};

// Parses a duration such as "30s" or "1.5"; false if it is not one.
bool ParseDurationText(absl::string_view text, absl::Duration* out);

}  // namespace gourmet
