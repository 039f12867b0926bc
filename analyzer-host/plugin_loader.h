// Loads analyzer plugins (shared libraries) through the C ABI of
// sdk/include/gourmet/plugin.h and refuses anything that does not fit.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gourmet/plugin.h"

namespace gourmet::analyzer {

// One created plugin instance; unloads the library when destroyed.
class LoadedPlugin {
 public:
  // dlopen()s `path`, checks the entry point and ABI version, and creates an
  // instance with `config_json`. Errors name the file (and both versions).
  static absl::StatusOr<std::unique_ptr<LoadedPlugin>> Load(const std::string& path,
                                                            const std::string& config_json);
  ~LoadedPlugin();

  const gourmet_plugin_api& api() const { return *api_; }
  void* instance() const { return instance_; }
  const std::string& path() const { return path_; }
  std::string name() const { return api_->name ? api_->name : ""; }

 private:
  LoadedPlugin() = default;
  std::string path_;
  void* handle_ = nullptr;
  const gourmet_plugin_api* api_ = nullptr;
  void* instance_ = nullptr;
};

}  // namespace gourmet::analyzer
