// Test plugin: the length and SHA-1 of each direction's reassembled payload,
// so end-to-end tests can compare Gourmet's reassembly byte for byte with
// tshark's "follow" output without logging the payload itself.
#include <gourmet/sdk.h>
#include <openssl/sha.h>

#include <cstdio>
#include <string>

namespace {

class StreamDigest : public gourmet::Plugin {
 public:
  // Config {"dump_dir": "DIR"} also writes each direction to DIR/UID.orig|resp, for debugging.
  static std::unique_ptr<StreamDigest> Create(const std::string& config, std::string*) {
    auto p = std::make_unique<StreamDigest>();
    const std::string key = "\"dump_dir\":\"";
    const size_t at = config.find(key);
    if (at != std::string::npos) {
      const size_t s = at + key.size();
      p->dump_dir_ = config.substr(s, config.find('"', s) - s);
    }
    return p;
  }
  bool Filter(const gourmet::Connection&) override { return true; }
  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    SHA_CTX ctx[2];
    SHA1_Init(&ctx[0]);
    SHA1_Init(&ctx[1]);
    uint64_t len[2] = {0, 0}, gaps[2] = {0, 0};
    FILE* dump[2] = {nullptr, nullptr};
    if (!dump_dir_.empty()) {
      const std::string base = dump_dir_ + "/" + std::string(conn.uid());
      dump[0] = std::fopen((base + ".orig").c_str(), "wb");
      dump[1] = std::fopen((base + ".resp").c_str(), "wb");
    }
    for (const gourmet_chunk& c : conn) {
      const int d = c.direction == GOURMET_DIR_RESP;
      if (dump[d]) std::fwrite(c.data, 1, c.len, dump[d]);
      SHA1_Update(&ctx[d], c.data, c.len);
      len[d] += c.len;
      gaps[d] += c.gap_before;
    }
    for (FILE* f : dump) {
      if (f) std::fclose(f);
    }
    std::string out = "{";
    for (int d = 0; d < 2; ++d) {
      unsigned char md[SHA_DIGEST_LENGTH];
      SHA1_Final(md, &ctx[d]);
      char hex[2 * SHA_DIGEST_LENGTH + 1];
      for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
      const char* side = d == 0 ? "orig" : "resp";
      out += std::string(d ? "," : "") + "\"" + side + "_len\":" + std::to_string(len[d]) + ",\"" +
             side + "_sha1\":\"" + hex + "\",\"" + side + "_gaps\":" + std::to_string(gaps[d]);
    }
    return gourmet::Result::Json(out + "}", false);
  }

 private:
  std::string dump_dir_;
};

}  // namespace

GOURMET_PLUGIN(StreamDigest, "stream_digest", "0.0.1")
