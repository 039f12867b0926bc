// `bytes`: Gourmet's simple analyzer. Counts the payload bytes the capture
// agent delivered per direction, and the chunks and gaps they came in.
#include <gourmet/sdk.h>

#include <string>

namespace {

class BytesPlugin : public gourmet::Plugin {
 public:
  static std::unique_ptr<BytesPlugin> Create(const std::string& /*config*/,
                                             std::string* /*error*/) {
    return std::make_unique<BytesPlugin>();
  }

  bool Filter(const gourmet::Connection& /*conn*/) override { return true; }

  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    uint64_t bytes[2] = {0, 0}, chunks[2] = {0, 0}, gaps[2] = {0, 0};
    for (const gourmet_chunk& c : conn) {
      const int d = c.direction == GOURMET_DIR_RESP ? 1 : 0;
      bytes[d] += c.len;
      chunks[d] += 1;
      gaps[d] += c.gap_before;
    }
    std::string json = "{\"orig\":" + std::to_string(bytes[0]) +
                       ",\"resp\":" + std::to_string(bytes[1]) +
                       ",\"orig_chunks\":" + std::to_string(chunks[0]) +
                       ",\"resp_chunks\":" + std::to_string(chunks[1]) +
                       ",\"orig_gap_bytes\":" + std::to_string(gaps[0]) +
                       ",\"resp_gap_bytes\":" + std::to_string(gaps[1]) + "}";
    // Counting bytes recognises no protocol, so it never adds to `service`.
    return gourmet::Result::Json(std::move(json), /*recognised=*/false);
  }
};

}  // namespace

GOURMET_PLUGIN(BytesPlugin, "bytes", "1.0.0")
