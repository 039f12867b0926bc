// HTTP/1.x transaction parser. See http_parser.h.
#include "plugins/http/http_parser.h"

#include <algorithm>
#include <cstring>

namespace gourmet::http {
namespace {

using plugins::HalfStream;
constexpr size_t npos = std::string_view::npos;
constexpr size_t kMaxAnomalies = 32;
constexpr size_t kMaxChunkLine = 1024;

void Anomaly(std::vector<std::string>* a, const char* name) {
  if (!a || a->size() >= kMaxAnomalies) return;
  if (std::find(a->begin(), a->end(), name) == a->end()) a->push_back(name);
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return false;
  }
  return true;
}

bool IContains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (IEquals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string Cut(std::string_view s, const Limits& l) {
  return std::string(s.substr(0, l.max_value_bytes));
}

// The line starting at `pos` without its CR LF; npos-terminated lines return
// the rest of the buffer.
std::string_view LineAt(std::string_view d, size_t pos) {
  size_t nl = d.find('\n', pos);
  std::string_view line = d.substr(pos, nl == npos ? npos : nl - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool ParseVersion(std::string_view v, std::string* out) {
  // "HTTP/1.1" -> "1.1"
  if (v.size() < 6 || v.substr(0, 5) != "HTTP/") return false;
  std::string_view num = v.substr(5);
  if (num.size() > 8) return false;
  for (char c : num) {
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  }
  *out = std::string(num);
  return true;
}

const char* const kMethods[] = {"GET",     "POST",   "HEAD",      "PUT",      "DELETE",
                                "OPTIONS", "PATCH",  "CONNECT",   "TRACE",    "PROPFIND",
                                "MKCOL",   "COPY",   "MOVE",      "LOCK",     "UNLOCK",
                                "SEARCH",  "REPORT", "PROPPATCH", "SUBSCRIBE"};

bool KnownMethod(std::string_view m) {
  for (const char* k : kMethods) {
    if (m == k) return true;
  }
  return false;
}

// Start of the body as request/response heads describe it.
struct Framing {
  bool chunked = false;
  bool has_length = false;
  uint64_t length = 0;
};

struct Head {
  std::string_view start;
  std::string_view host, user_agent, referrer, origin, content_type;
  Framing framing;
  bool upgrade = false;
};

// Parses the header block [begin, end) (start line included).
Head ParseHead(std::string_view block, const Limits& limits, std::vector<std::string>* an) {
  Head h;
  size_t pos = 0;
  h.start = LineAt(block, 0);
  pos = block.find('\n');
  pos = pos == npos ? block.size() : pos + 1;
  size_t n = 0;
  bool have_length = false;
  while (pos < block.size()) {
    std::string_view line = LineAt(block, pos);
    size_t nl = block.find('\n', pos);
    pos = nl == npos ? block.size() : nl + 1;
    if (line.empty()) break;  // the blank line that ends the block
    if (++n > limits.max_headers) {
      Anomaly(an, "too_many_headers");
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      Anomaly(an, "obsolete_header_folding");
      continue;
    }
    size_t colon = line.find(':');
    if (colon == npos || colon == 0) {
      Anomaly(an, "bad_header_line");
      continue;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    if (IEquals(name, "host")) {
      h.host = value;
    } else if (IEquals(name, "user-agent")) {
      h.user_agent = value;
    } else if (IEquals(name, "referer")) {
      h.referrer = value;
    } else if (IEquals(name, "origin")) {
      h.origin = value;
    } else if (IEquals(name, "content-type")) {
      h.content_type = value;
    } else if (IEquals(name, "upgrade")) {
      h.upgrade = true;
    } else if (IEquals(name, "transfer-encoding")) {
      if (IContains(value, "chunked")) h.framing.chunked = true;
    } else if (IEquals(name, "content-length")) {
      uint64_t v = 0;
      bool ok = !value.empty() && value.size() <= 18;
      for (char c : value) {
        if (c < '0' || c > '9') {
          ok = false;
          break;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (!ok) {
        Anomaly(an, "bad_content_length");
      } else if (have_length && v != h.framing.length) {
        Anomaly(an, "multiple_content_length");
      } else {
        have_length = true;
        h.framing.has_length = true;
        h.framing.length = v;
      }
    }
  }
  return h;
}

// Where the header block starting at `pos` ends (just past its blank line).
// npos with *too_long set when no blank line comes within the cap.
size_t FindHeaderEnd(std::string_view d, size_t pos, size_t cap, bool* too_long) {
  *too_long = false;
  const size_t limit = std::min(d.size(), pos + cap);
  size_t i = pos;
  while (i < limit) {
    const void* p = std::memchr(d.data() + i, '\n', limit - i);
    if (!p) break;
    size_t nl = static_cast<const char*>(p) - d.data();
    if (nl + 1 < d.size() && d[nl + 1] == '\n') return nl + 2;
    if (nl + 2 < d.size() && d[nl + 1] == '\r' && d[nl + 2] == '\n') return nl + 3;
    i = nl + 1;
  }
  if (d.size() - pos >= cap) *too_long = true;
  return npos;
}

// Resynchronisation: the first position at or after `pos` that is a line
// start (or `pos` itself) where `pred` holds.
template <typename Pred>
size_t Resync(std::string_view d, size_t pos, Pred pred) {
  if (pos < d.size() && pred(d.substr(pos))) return pos;
  while (pos < d.size()) {
    size_t nl = d.find('\n', pos);
    if (nl == npos) return npos;
    pos = nl + 1;
    if (pos < d.size() && pred(d.substr(pos))) return pos;
  }
  return npos;
}

// Server data after a gap rarely starts at a line start: look for a status
// line anywhere.
size_t ResyncResponse(std::string_view d, size_t pos) {
  while (pos < d.size()) {
    size_t at = d.find("HTTP/1.", pos);
    if (at == npos) return npos;
    if (LooksLikeResponse(d.substr(at))) return at;
    pos = at + 1;
  }
  return npos;
}

enum class BodyEnd { kComplete, kTruncated, kDesync };

// Consumes `n` body bytes from *pos, counting missing (gap) bytes as body.
// kTruncated: the stream ended first; kDesync: a gap ran past the body's end,
// so *pos is left at the data after that gap.
BodyEnd SkipBody(const HalfStream& s, size_t* pos, uint64_t n, uint64_t* got, bool* gapped) {
  uint64_t remaining = n;
  size_t p = *pos;
  size_t gi = s.GapIndex(p);  // a gap right at p is missing body bytes too
  while (remaining > 0) {
    const size_t stop = gi < s.gaps.size() ? s.GapPiece(gi).offset : s.data.size();
    const uint64_t take = std::min<uint64_t>(stop - p, remaining);
    p += take;
    remaining -= take;
    *got += take;
    if (remaining == 0) break;
    if (gi >= s.gaps.size()) {
      *pos = p;
      return BodyEnd::kTruncated;
    }
    *gapped = true;
    const uint64_t missing = s.GapPiece(gi).gap_before;
    if (missing > remaining) {  // the gap swallowed the end of the body
      *got += remaining;
      *pos = p;
      return BodyEnd::kDesync;
    }
    remaining -= missing;
    *got += missing;
    ++gi;
  }
  *pos = p;
  return BodyEnd::kComplete;
}

bool HasGapAt(const HalfStream& s, size_t pos) {
  const HalfStream::Piece* g = s.NextGap(pos);
  return g && g->offset == pos && pos != 0;
}

// A chunked body from *pos; the decoded length goes to *got.
BodyEnd SkipChunked(const HalfStream& s, size_t* pos, uint64_t* got, bool* gapped,
                    const Limits& limits, std::vector<std::string>* an) {
  std::string_view d = s.view();
  for (;;) {
    if (HasGapAt(s, *pos)) {
      *gapped = true;
      return BodyEnd::kDesync;
    }
    size_t nl = d.find('\n', *pos);
    if (nl == npos || nl - *pos > kMaxChunkLine) {
      if (nl == npos && d.size() - *pos <= kMaxChunkLine) return BodyEnd::kTruncated;
      Anomaly(an, "bad_chunk_size");
      return BodyEnd::kDesync;
    }
    if (s.GapWithin(*pos, nl) != npos) {
      *gapped = true;
      return BodyEnd::kDesync;
    }
    std::string_view line = Trim(d.substr(*pos, nl - *pos));
    size_t semi = line.find(';');
    if (semi != npos) line = Trim(line.substr(0, semi));
    uint64_t size = 0;
    bool ok = !line.empty() && line.size() <= 15;
    for (char c : line) {
      int v = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (v < 0) {
        ok = false;
        break;
      }
      size = size * 16 + static_cast<uint64_t>(v);
    }
    if (!ok) {
      Anomaly(an, "bad_chunk_size");
      return BodyEnd::kDesync;
    }
    *pos = nl + 1;
    if (size == 0) {
      // Trailer section: header lines up to a blank line.
      size_t scanned = 0;
      for (;;) {
        size_t e = d.find('\n', *pos);
        if (e == npos) return BodyEnd::kTruncated;
        std::string_view l = d.substr(*pos, e - *pos);
        scanned += e + 1 - *pos;
        *pos = e + 1;
        if (l.empty() || l == "\r") return BodyEnd::kComplete;
        if (scanned > limits.max_header_bytes) {
          Anomaly(an, "trailer_too_long");
          return BodyEnd::kDesync;
        }
      }
    }
    BodyEnd e = SkipBody(s, pos, size, got, gapped);
    if (e != BodyEnd::kComplete) return e;
    if (*pos < d.size() && d[*pos] == '\r') ++*pos;
    if (*pos < d.size() && d[*pos] == '\n') {
      ++*pos;
    } else if (*pos < d.size()) {
      Anomaly(an, "bad_chunk_terminator");
    } else {
      return BodyEnd::kTruncated;
    }
  }
}

// Reads a body framed by `f` from *pos: kTruncated when the stream ends inside
// it, kDesync when a gap ran past its end (parsing must resynchronise).
BodyEnd ReadBody(const HalfStream& s, size_t* pos, const Framing& f, uint64_t* len,
                 const Limits& limits, std::vector<std::string>* an) {
  bool gapped = false;
  BodyEnd e = BodyEnd::kComplete;
  if (f.chunked) {
    e = SkipChunked(s, pos, len, &gapped, limits, an);
  } else if (f.has_length) {
    e = SkipBody(s, pos, f.length, len, &gapped);
  }
  if (gapped) Anomaly(an, "content_gap");
  if (e == BodyEnd::kTruncated) Anomaly(an, "truncated_body");
  return e;
}

// Finds the end of the header block of the message starting at `pos` in
// one direction (`side` is "request" or "response", for anomaly names).
// Returns false when the headers hold a gap: `*pos` then moves to it, and
// the caller resynchronises there. `*partial` is set when the block is cut
// by the capture or too long; `*end` then stops at the cap.
bool LocateHead(const HalfStream& s, std::string_view d, const Limits& limits, const char* side,
                size_t* pos, size_t* end, bool* partial, std::vector<std::string>* an) {
  bool too_long = false;
  *end = FindHeaderEnd(d, *pos, limits.max_header_bytes, &too_long);
  *partial = *end == npos;
  if (*partial) {
    Anomaly(an, (too_long ? std::string(side) + "_header_too_long"
                          : "truncated_" + std::string(side) + "_headers")
                    .c_str());
    *end = std::min(d.size(), *pos + limits.max_header_bytes);
  }
  const size_t gap = s.GapWithin(*pos, *end - 1);
  if (gap != npos) {
    Anomaly(an, ("gap_in_" + std::string(side) + "_headers").c_str());
    *pos = gap;
    return false;
  }
  return true;
}

}  // namespace

bool LooksLikeRequest(std::string_view s) {
  size_t sp = s.find(' ');
  if (sp == npos) sp = std::min<size_t>(s.size(), 33);
  if (sp == 0 || sp > 32) return false;
  std::string_view method = s.substr(0, sp);
  for (char c : method) {
    if (!IsTokenChar(c)) return false;
  }
  if (sp >= s.size()) return false;  // a method alone: too little to tell
  if (KnownMethod(method)) return true;
  // Unknown methods count when the line ends in an HTTP version.
  std::string_view line = LineAt(s, 0);
  size_t last = line.rfind(' ');
  return last != npos && last > sp && line.substr(last + 1, 5) == "HTTP/";
}

bool LooksLikeResponse(std::string_view s) {
  // "HTTP/1.1 200" (the reason may be absent); HTTP/1.0 and 0.9-ish too.
  if (s.size() < 12 || s.substr(0, 5) != "HTTP/") return false;
  size_t sp = s.find(' ', 5);
  if (sp == npos || sp > 12 || sp + 4 > s.size()) return false;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return sp + 4 == s.size() || s[sp + 4] == ' ' || s[sp + 4] == '\r' || s[sp + 4] == '\n';
}

std::vector<Request> ParseRequests(const HalfStream& orig, const Limits& limits,
                                   std::vector<std::string>* an) {
  std::vector<Request> out;
  std::string_view d = orig.view();
  size_t pos = 0;
  while (pos < d.size()) {
    if (!LooksLikeRequest(d.substr(pos))) {
      Anomaly(an, pos == 0 ? "request_stream_mid_message" : "unexpected_client_data");
      pos = Resync(d, pos + 1, LooksLikeRequest);
      if (pos == npos) break;
    }
    if (out.size() >= limits.max_transactions) {
      Anomaly(an, "too_many_transactions");
      break;
    }
    size_t end;
    bool partial;
    if (!LocateHead(orig, d, limits, "request", &pos, &end, &partial, an)) continue;
    Head h = ParseHead(d.substr(pos, end - pos), limits, an);
    Request r;
    r.ts_us = orig.TsAt(pos);
    std::string_view line = h.start;
    size_t sp1 = line.find(' ');
    size_t sp2 = line.rfind(' ');
    r.method = Cut(line.substr(0, sp1), limits);
    if (sp2 != npos && sp2 > sp1 && ParseVersion(line.substr(sp2 + 1), &r.version)) {
      r.uri = Cut(Trim(line.substr(sp1 + 1, sp2 - sp1 - 1)), limits);
    } else {
      r.uri = Cut(Trim(line.substr(sp1 + 1)), limits);
      r.version = "0.9";
      Anomaly(an, "request_without_version");
    }
    r.host = Cut(h.host, limits);
    r.user_agent = Cut(h.user_agent, limits);
    r.referrer = Cut(h.referrer, limits);
    r.origin = Cut(h.origin, limits);
    r.content_type = Cut(h.content_type, limits);
    r.chunked = h.framing.chunked;
    pos = end;
    BodyEnd e =
        partial ? BodyEnd::kTruncated : ReadBody(orig, &pos, h.framing, &r.body_len, limits, an);
    const bool tunnel = r.method == "CONNECT" || h.upgrade;
    out.push_back(std::move(r));
    if (e == BodyEnd::kTruncated || tunnel) break;
  }
  return out;
}

std::vector<Response> ParseResponses(const HalfStream& resp, const std::vector<Request>& requests,
                                     const Limits& limits, std::vector<std::string>* an) {
  std::vector<Response> out;
  std::string_view d = resp.view();
  size_t pos = 0, req_idx = 0;
  while (pos < d.size()) {
    if (!LooksLikeResponse(d.substr(pos))) {
      Anomaly(an, pos == 0 ? "response_stream_mid_message" : "unexpected_server_data");
      pos = ResyncResponse(d, pos + 1);
      if (pos == npos) break;
    }
    if (out.size() >= limits.max_transactions * 2) {
      Anomaly(an, "too_many_transactions");
      break;
    }
    size_t end;
    bool partial;
    if (!LocateHead(resp, d, limits, "response", &pos, &end, &partial, an)) continue;
    Head h = ParseHead(d.substr(pos, end - pos), limits, an);
    Response r;
    r.ts_us = resp.TsAt(pos);
    std::string_view line = h.start;
    size_t sp1 = line.find(' ');
    ParseVersion(line.substr(0, sp1), &r.version);
    std::string_view rest = line.substr(sp1 + 1);
    r.status_code = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
    r.status_msg = Cut(Trim(rest.size() > 3 ? rest.substr(4) : std::string_view()), limits);
    r.content_type = Cut(h.content_type, limits);
    r.chunked = h.framing.chunked;
    pos = end;
    const Request* req = req_idx < requests.size() ? &requests[req_idx] : nullptr;
    const int code = r.status_code;
    if (partial) {
      out.push_back(std::move(r));
      break;
    }
    if (code >= 100 && code < 200) {
      out.push_back(std::move(r));
      if (code == 101) break;  // the connection switches protocol
      continue;                // interim: the final response follows
    }
    ++req_idx;
    if (req && req->method == "CONNECT" && code >= 200 && code < 300) {
      out.push_back(std::move(r));
      break;  // a tunnel follows
    }
    BodyEnd e = BodyEnd::kComplete;
    if ((req && req->method == "HEAD") || code == 204 || code == 304) {
      // no body, whatever the headers say
    } else if (h.framing.chunked || h.framing.has_length) {
      e = ReadBody(resp, &pos, h.framing, &r.body_len, limits, an);
    } else {
      // Delimited by the end of the connection.
      r.until_close = true;
      r.body_len = d.size() - pos;
      for (size_t gi = resp.GapIndex(pos); gi < resp.gaps.size(); ++gi) {
        r.body_len += resp.GapPiece(gi).gap_before;
        Anomaly(an, "content_gap");
      }
      pos = d.size();
    }
    out.push_back(std::move(r));
    if (e == BodyEnd::kTruncated) break;
  }
  return out;
}

Result Parse(const HalfStream& orig, const HalfStream& resp, const Limits& limits) {
  Result res;
  std::vector<Request> reqs = ParseRequests(orig, limits, &res.anomalies);
  std::vector<Response> resps = ParseResponses(resp, reqs, limits, &res.anomalies);
  res.transactions.resize(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) res.transactions[i].request = std::move(reqs[i]);
  size_t t = 0;
  for (Response& r : resps) {
    if (t >= limits.max_transactions) {
      Anomaly(&res.anomalies, "too_many_transactions");
      break;
    }
    if (t >= res.transactions.size()) {
      res.transactions.emplace_back();
      if (t >= reqs.size()) Anomaly(&res.anomalies, "response_without_request");
    }
    Transaction& tr = res.transactions[t];
    if (r.status_code >= 100 && r.status_code < 200 && r.status_code != 101) {
      tr.info_code = r.status_code;
      tr.info_msg = r.status_msg;
      continue;
    }
    tr.response = std::move(r);
    ++t;
  }
  for (size_t i = 0; i < res.transactions.size(); ++i) {
    res.transactions[i].trans_depth = static_cast<int>(i + 1);
  }
  return res;
}

}  // namespace gourmet::http
