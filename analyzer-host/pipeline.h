// The analysis pipeline: the loaded plugins in dependency order, run over
// one connection at a time. Failures of a plugin are recorded on the
// connection and never lose it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analyzer-host/plugin_loader.h"
#include "gourmet/v1/sink.pb.h"
#include "prometheus/registry.h"

namespace gourmet::analyzer {

struct PluginSpec {
  std::string name;                     // also the default result key
  std::string path;                     // shared library
  std::string key;                      // where the result goes in the record
  std::vector<std::string> depends_on;  // keys of plugins that must run first
  std::string config_json = "{}";
};

class Pipeline {
 public:
  // Orders `specs` by depends_on (refusing cycles and unknown names), then
  // loads and creates every plugin. Plugin calls may run on several threads.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(std::vector<PluginSpec> specs,
                                                          prometheus::Registry& registry,
                                                          size_t max_result_bytes);
  ~Pipeline();

  // Runs the plugins on `conn` and moves it (payload stripped) into `out`
  // together with results, recognised services and errors.
  void Analyze(gourmet::v1::Connection* conn, gourmet::v1::Record* out);

  // Moves `conn` (payload stripped) into `out` without running any plugin,
  // with `message` as its error under `error_key`.
  static void PassThrough(gourmet::v1::Connection* conn, gourmet::v1::Record* out,
                          const std::string& error_key, const std::string& message);

  // The plugin keys in the order they run.
  std::vector<std::string> keys() const;

 private:
  struct Stage;
  Pipeline() = default;
  std::vector<std::unique_ptr<Stage>> stages_;
  size_t max_result_bytes_ = 0;
};

// Orders specs so that each comes after everything it depends on.
absl::StatusOr<std::vector<PluginSpec>> OrderByDependencies(std::vector<PluginSpec> specs);

}  // namespace gourmet::analyzer
