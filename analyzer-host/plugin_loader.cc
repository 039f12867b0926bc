#include "analyzer-host/plugin_loader.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace gourmet::analyzer {

absl::StatusOr<std::unique_ptr<LoadedPlugin>> LoadedPlugin::Load(const std::string& path,
                                                                 const std::string& config_json) {
  std::unique_ptr<LoadedPlugin> p(new LoadedPlugin());
  p->path_ = path;
  // RTLD_LOCAL: plugins must not see each other's symbols.
  p->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!p->handle_) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "' cannot be loaded: ", dlerror()));
  }
  auto entry =
      reinterpret_cast<gourmet_plugin_entry_fn>(dlsym(p->handle_, GOURMET_PLUGIN_ENTRY_SYMBOL));
  if (!entry) {
    return absl::FailedPreconditionError(absl::StrCat("plugin '", path, "' has no entry point ",
                                                      GOURMET_PLUGIN_ENTRY_SYMBOL,
                                                      "(): not a Gourmet plugin"));
  }
  p->api_ = entry();
  if (!p->api_) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "': entry point returned nothing"));
  }
  if (p->api_->abi_version != GOURMET_PLUGIN_ABI_VERSION) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "' was built for plugin ABI version ", p->api_->abi_version,
                     ", this analyzer-host speaks version ", GOURMET_PLUGIN_ABI_VERSION,
                     "; rebuild the plugin"));
  }
  if (p->api_->struct_size < sizeof(gourmet_plugin_api) || !p->api_->create || !p->api_->destroy ||
      !p->api_->filter || !p->api_->analyze || !p->api_->name) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin '", path, "': incomplete plugin table"));
  }
  char err[512] = {};
  p->instance_ = p->api_->create(config_json.data(), config_json.size(), err, sizeof(err));
  if (!p->instance_) {
    return absl::InvalidArgumentError(
        absl::StrCat("plugin '", p->api_->name, "' (", path,
                     ") refused its config: ", err[0] ? err : "no reason given"));
  }
  return p;
}

LoadedPlugin::~LoadedPlugin() {
  if (instance_ && api_) api_->destroy(instance_);
  if (handle_) dlclose(handle_);
}

}  // namespace gourmet::analyzer
