// `hello`: the smallest useful Gourmet plugin, built out of tree against the
// installed SDK. It greets every connection that carried at least
// `min_bytes` of payload and says how many bytes that was, and shows typed,
// validated config with <gourmet/config.h>.
//
//   plugins:
//     - name: hello
//       config: {greeting: "bonjour", min_bytes: 100}
#include <gourmet/config.h>
#include <gourmet/sdk.h>

#include <memory>
#include <string>

namespace {

struct HelloConfig {
  std::string greeting = "hello";
  int64_t min_bytes = 0;
};

class Hello : public gourmet::Plugin {
 public:
  // Parses and validates the config; a bad value refuses to start, and the
  // message names the key ("key 'min_bytes': expected an integer ...").
  static std::unique_ptr<Hello> Create(const std::string& json, std::string* error) {
    gourmet::PluginConfig cfg(json);
    HelloConfig c;
    c.greeting = cfg.String("greeting", c.greeting);
    c.min_bytes = cfg.Int("min_bytes", c.min_bytes, 0, int64_t{1} << 40);
    if (c.greeting.empty()) cfg.Fail("greeting", "must not be empty");
    if (!cfg.Finish(error)) return nullptr;
    return std::make_unique<Hello>(std::move(c));
  }

  explicit Hello(HelloConfig config) : config_(std::move(config)) {}

  bool Filter(const gourmet::Connection& conn) override {
    return conn.orig_bytes() + conn.resp_bytes() >= static_cast<uint64_t>(config_.min_bytes);
  }

  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    std::string json = "{\"greeting\":\"" + Escape(config_.greeting) + "\",\"proto\":\"" +
                       std::string(conn.proto()) + "\",\"payload_bytes\":" +
                       std::to_string(conn.orig_bytes() + conn.resp_bytes()) + "}";
    return gourmet::Result::Json(std::move(json), /*recognised=*/false);
  }

 private:
  static std::string Escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      if (static_cast<unsigned char>(c) < 0x20) continue;
      out.push_back(c);
    }
    return out;
  }

  const HelloConfig config_;
};

}  // namespace

GOURMET_PLUGIN(Hello, "hello", "1.0.0")
