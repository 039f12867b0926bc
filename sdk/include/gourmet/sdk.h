// Header-only C++ SDK over the plugin C ABI: a plugin is a class with
// Filter() and Analyze(), exported with GOURMET_PLUGIN(Class, "name", "version").
//
//   class Bytes : public gourmet::Plugin {
//    public:
//     static std::unique_ptr<Bytes> Create(const std::string& config, std::string* error);
//     bool Filter(const gourmet::Connection& c) override { return true; }
//     gourmet::Result Analyze(const gourmet::Connection& c) override;
//   };
//   GOURMET_PLUGIN(Bytes, "bytes", "1.0")
//
// Exceptions never cross the boundary: the macro turns them into errors.
#pragma once

#include <gourmet/plugin.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace gourmet {

inline std::string_view View(gourmet_str s) { return std::string_view(s.data, s.len); }

// Thin read-only wrapper over gourmet_connection.
class Connection {
 public:
  explicit Connection(const gourmet_connection& c) : c_(c) {}

  std::string_view uid() const { return View(c_.uid); }
  std::string_view proto() const { return View(c_.proto); }
  std::string_view orig_h() const { return View(c_.orig.addr); }
  std::string_view resp_h() const { return View(c_.resp.addr); }
  uint16_t orig_p() const { return c_.orig.port; }
  uint16_t resp_p() const { return c_.resp.port; }
  int64_t ts_us() const { return c_.ts_us; }
  int64_t duration_us() const { return c_.duration_us; }
  uint64_t orig_pkts() const { return c_.orig_pkts; }
  uint64_t resp_pkts() const { return c_.resp_pkts; }
  uint64_t orig_bytes() const { return c_.orig_bytes; }
  uint64_t resp_bytes() const { return c_.resp_bytes; }
  uint64_t missed_bytes() const { return c_.missed_bytes; }
  std::string_view conn_state() const { return View(c_.conn_state); }
  std::string_view history() const { return View(c_.history); }

  size_t chunk_count() const { return c_.n_chunks; }
  const gourmet_chunk& chunk(size_t i) const { return c_.chunks[i]; }
  const gourmet_chunk* begin() const { return c_.chunks; }
  const gourmet_chunk* end() const { return c_.chunks + c_.n_chunks; }

  // The JSON text another plugin stored under `key`, or empty if it did not run
  // or produced nothing.
  std::string_view result(std::string_view key) const {
    for (size_t i = 0; i < c_.n_results; ++i) {
      if (View(c_.results[i].key) == key) return View(c_.results[i].json);
    }
    return {};
  }

  const gourmet_connection& raw() const { return c_; }

 private:
  const gourmet_connection& c_;
};

// What Analyze() returns: JSON text (empty = nothing to record), whether the
// protocol was recognised, or an error message.
struct Result {
  std::string json;
  bool recognised = false;
  std::string error;

  static Result Json(std::string j, bool recognised = true) {
    return {std::move(j), recognised, {}};
  }
  static Result None() { return {}; }
  static Result Error(std::string msg) { return {{}, false, std::move(msg)}; }
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual bool Filter(const Connection& conn) = 0;
  virtual Result Analyze(const Connection& conn) = 0;
};

namespace internal {

inline void CopyError(const std::string& msg, char* err, size_t cap) {
  if (cap == 0) return;
  std::snprintf(err, cap, "%s", msg.c_str());
}

template <typename T>
struct Adapter {
  static void* Create(const char* cfg, size_t len, char* err, size_t cap) {
    try {
      std::string error;
      std::unique_ptr<T> p = T::Create(std::string(cfg ? cfg : "", len), &error);
      if (!p) {
        CopyError(error.empty() ? "plugin refused its config" : error, err, cap);
        return nullptr;
      }
      return p.release();
    } catch (const std::exception& e) {
      CopyError(std::string("exception in create: ") + e.what(), err, cap);
    } catch (...) {
      CopyError("unknown exception in create", err, cap);
    }
    return nullptr;
  }
  static void Destroy(void* p) { delete static_cast<T*>(p); }
  static int Filter(void* p, const gourmet_connection* c) {
    try {
      return static_cast<T*>(p)->Filter(Connection(*c)) ? 1 : 0;
    } catch (...) {
      return 0;  // a filter that fails cannot claim the connection
    }
  }
  static int Analyze(void* p, const gourmet_connection* c, const gourmet_output* out) {
    std::string error;
    try {
      Result r = static_cast<T*>(p)->Analyze(Connection(*c));
      if (!r.error.empty()) {
        out->set_error(out->host, r.error.data(), r.error.size());
        return 0;
      }
      if (!r.json.empty()) out->set_result(out->host, r.json.data(), r.json.size());
      return r.recognised ? 1 : 0;
    } catch (const std::exception& e) {
      error = std::string("exception: ") + e.what();
    } catch (...) {
      error = "unknown exception";
    }
    out->set_error(out->host, error.data(), error.size());
    return 0;
  }
};

}  // namespace internal
}  // namespace gourmet

// Exports the entry point for plugin class `cls` with default key `name`.
#define GOURMET_PLUGIN(cls, name, version)                                    \
  extern "C" __attribute__((visibility("default"))) const gourmet_plugin_api* \
  gourmet_plugin_entry(void) {                                                \
    static const gourmet_plugin_api api = {                                   \
        GOURMET_PLUGIN_ABI_VERSION,                                           \
        sizeof(gourmet_plugin_api),                                           \
        name,                                                                 \
        version,                                                              \
        &::gourmet::internal::Adapter<cls>::Create,                           \
        &::gourmet::internal::Adapter<cls>::Destroy,                          \
        &::gourmet::internal::Adapter<cls>::Filter,                           \
        &::gourmet::internal::Adapter<cls>::Analyze,                          \
    };                                                                        \
    return &api;                                                              \
  }
