// Deliberately broken plugins for the loader and containment tests. One
// source, several libraries: the MODE macro picks the misbehaviour.
#include <gourmet/config.h>
#include <gourmet/sdk.h>

#include <algorithm>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

class Misbehaving : public gourmet::Plugin {
 public:
  static std::unique_ptr<Misbehaving> Create(const std::string& config, std::string* error) {
#if MODE == 5
    // Refuses any config that does not set "threshold" to a number.
    if (config.find("\"threshold\":") == std::string::npos) {
      *error = "key 'threshold': required";
      return nullptr;
    }
#endif
    auto p = std::make_unique<Misbehaving>();
#if MODE == 6
    // {"crash_on_orig_ports": [40003]}: crash only on those connections
    // (the others get {"survived": true}); without it, on every one.
    gourmet::PluginConfig cfg(config);
    p->crash_ports_ = cfg.IntList("crash_on_orig_ports", 0, 65535);
    p->crash_all_ = !cfg.Has("crash_on_orig_ports");
    if (!cfg.Finish(error)) return nullptr;
#endif
    return p;
  }
  bool Filter(const gourmet::Connection&) override { return true; }
  gourmet::Result Analyze(const gourmet::Connection& conn) override {
#if MODE == 1
    throw std::runtime_error("boom");
#elif MODE == 2
    return gourmet::Result::Json("{\"unterminated\": ");
#elif MODE == 3
    return gourmet::Result::Json("\"" + std::string(4096, 'x') + "\"");
#elif MODE == 4
    // Reads its dependency's result, as a dependant plugin would.
    const std::string dep(conn.result("bytes"));
    return gourmet::Result::Json("{\"saw\":" + (dep.empty() ? std::string("null") : dep) + "}");
#elif MODE == 6
    if (crash_all_ || std::count(crash_ports_.begin(), crash_ports_.end(), conn.orig_p())) {
      std::raise(SIGSEGV);
    }
    return gourmet::Result::Json("{\"survived\":true}", false);
#else
    return gourmet::Result::Json("{\"pretty\":\n  [1, 2]\n}");
#endif
  }

 private:
  [[maybe_unused]] bool crash_all_ = true;
  [[maybe_unused]] std::vector<int64_t> crash_ports_;
};

}  // namespace

#if MODE == 7
// A wrong ABI version, as a plugin built against a future SDK would have.
extern "C" __attribute__((visibility("default"))) const gourmet_plugin_api* gourmet_plugin_entry(
    void) {
  static gourmet_plugin_api api = {GOURMET_PLUGIN_ABI_VERSION + 1,
                                   sizeof(gourmet_plugin_api),
                                   "future",
                                   "9",
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr};
  return &api;
}
#elif MODE == 8
// No entry point at all.
extern "C" __attribute__((visibility("default"))) int not_a_gourmet_plugin(void) { return 0; }
#else
GOURMET_PLUGIN(Misbehaving, PLUGIN_NAME, "0.0.1")
#endif
