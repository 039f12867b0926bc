// `dns` plugin: parses every DNS message of a UDP or TCP connection, matches
// queries to responses by id and records one object per transaction, with
// Zeek dns.log field names.
#include <gourmet/sdk.h>

#include <nlohmann/json.hpp>
#include <string>

#include "plugins/common/conn_streams.h"
#include "plugins/dns/dns_parser.h"

namespace {

using nlohmann::json;
namespace dns = gourmet::dns;

json RecordJson(const dns::ResourceRecord& rr) {
  json j = {{"name", rr.name}, {"type", dns::TypeName(rr.type)}, {"ttl", rr.ttl}};
  if (rr.rclass != 1) j["class"] = dns::ClassName(rr.rclass);
  if (rr.decoded) {
    j["data"] = rr.data;
  } else {
    j["len"] = rr.rdlength;
  }
  switch (rr.type) {
    case 15:
      j["preference"] = rr.preference;
      break;
    case 33:
      j["priority"] = rr.priority;
      j["weight"] = rr.weight;
      j["port"] = rr.port;
      break;
    case 6:
      if (rr.decoded) {
        j["rname"] = rr.rname;
        j["serial"] = rr.serial;
        j["refresh"] = rr.refresh;
        j["retry"] = rr.retry;
        j["expire"] = rr.expire;
        j["minimum"] = rr.minimum;
      }
      break;
    case 16:
      j["txt"] = rr.txt;
      break;
  }
  return j;
}

json Section(const std::vector<dns::ResourceRecord>& rrs) {
  json a = json::array();
  for (const auto& rr : rrs) a.push_back(RecordJson(rr));
  return a;
}

class DnsPlugin : public gourmet::Plugin {
 public:
  static std::unique_ptr<DnsPlugin> Create(const std::string& config, std::string* error) {
    json cfg = json::parse(config, nullptr, /*allow_exceptions=*/false);
    if (cfg.is_discarded() || !cfg.is_object()) {
      *error = "dns: config is not a JSON object";
      return nullptr;
    }
    return std::make_unique<DnsPlugin>();
  }

  // Content, not port: the first message parses as a DNS header + question.
  bool Filter(const gourmet::Connection& conn) override {
    const bool tcp = conn.proto() == "tcp";
    if (!tcp && conn.proto() != "udp") return false;
    for (int dir : {GOURMET_DIR_ORIG, GOURMET_DIR_RESP}) {
      if (dns::LooksLikeDns(gourmet::plugins::FirstPayload(conn, dir), tcp)) return true;
    }
    return false;
  }

  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    std::vector<dns::WireMessage> wire;
    std::vector<std::string> anomalies;
    const bool tcp = conn.proto() == "tcp";
    gourmet::plugins::ConnStreams streams;
    if (tcp) {
      streams = gourmet::plugins::SplitStreams(conn);
      for (const auto* s : {&streams.orig, &streams.resp}) {
        for (const dns::TcpMessage& m : dns::SplitTcp(*s, limits_, &anomalies)) {
          wire.push_back({m.ts_us, m.data});
        }
      }
      // Restore time order across the two directions.
      std::stable_sort(wire.begin(), wire.end(),
                       [](const auto& a, const auto& b) { return a.ts_us < b.ts_us; });
    } else {
      for (const gourmet_chunk& c : conn) {
        wire.push_back({c.ts_us, std::string_view(reinterpret_cast<const char*>(c.data), c.len)});
      }
    }
    std::vector<dns::Transaction> txs = dns::Match(wire, limits_);
    json out = json::array();
    bool recognised = false;
    for (const dns::Transaction& t : txs) {
      const dns::Message& m = t.query ? *t.query : *t.response;
      json j = json::object();
      j["ts"] = static_cast<double>(t.query ? t.query_ts_us : t.response_ts_us) / 1e6;
      j["proto"] = tcp ? "tcp" : "udp";
      j["trans_id"] = m.id;
      if (!m.questions.empty()) {
        const dns::Question& q = m.questions[0];
        j["query"] = q.name;
        j["qclass"] = q.qclass;
        j["qclass_name"] = dns::ClassName(q.qclass);
        j["qtype"] = q.qtype;
        j["qtype_name"] = dns::TypeName(q.qtype);
      }
      if (m.opcode != 0) j["opcode"] = m.opcode;
      if (t.query) j["RD"] = t.query->rd;
      if (t.query && t.response) {
        j["rtt"] = static_cast<double>(t.response_ts_us - t.query_ts_us) / 1e6;
      }
      std::vector<std::string> an;
      if (t.query) {
        an = t.query->anomalies;
        if (t.query->edns) j["query_edns"] = EdnsJson(*t.query->edns);
      }
      if (t.response) {
        const dns::Message& r = *t.response;
        uint16_t rcode = r.rcode;
        if (r.edns) rcode |= static_cast<uint16_t>(r.edns->extended_rcode) << 4;
        j["rcode"] = rcode;
        j["rcode_name"] = dns::RcodeName(rcode);
        j["AA"] = r.aa;
        j["TC"] = r.tc;
        j["RA"] = r.ra;
        if (!t.query) j["RD"] = r.rd;
        j["Z"] = r.z ? 1 : 0;
        j["answers"] = Section(r.answers);
        if (!r.authority.empty()) j["authority"] = Section(r.authority);
        if (!r.additional.empty()) j["additional"] = Section(r.additional);
        if (r.edns) j["edns"] = EdnsJson(*r.edns);
        // Zeek: a response that answers nothing with NOERROR is not rejected;
        // REFUSED/NOTIMP/FORMERR are.
        j["rejected"] = rcode == 1 || rcode == 4 || rcode == 5;
        for (const auto& a : r.anomalies) an.push_back(a);
      }
      if (!an.empty()) j["anomalies"] = an;
      if ((t.query && t.query->complete) || (t.response && t.response->complete)) {
        recognised = true;
      }
      out.push_back(std::move(j));
    }
    if (out.empty()) return gourmet::Result::None();
    if (!anomalies.empty()) out[0]["stream_anomalies"] = anomalies;
    return gourmet::Result::Json(out.dump(-1, ' ', false, json::error_handler_t::replace),
                                 recognised);
  }

 private:
  static json EdnsJson(const dns::Edns& e) {
    json o = json::array();
    for (const auto& opt : e.options) o.push_back({{"code", opt.code}, {"len", opt.len}});
    return {{"udp_payload_size", e.udp_payload_size},
            {"version", e.version},
            {"DO", e.dnssec_ok},
            {"options", o}};
  }

  dns::Limits limits_;
};

}  // namespace

GOURMET_PLUGIN(DnsPlugin, "dns", "1.0.0")
