// Renders a connection record as one JSON line with Zeek conn.log field
// names and order, analyzer results under their keys.
#pragma once

#include <string>
#include <vector>

#include "gourmet/v1/sink.pb.h"

namespace gourmet::sink {

// Printable address of a 4- or 16-byte network-order address.
std::string AddrToString(const std::string& raw);
// "tcp", "udp", "icmp" or "unknown_transport", as Zeek.
const char* ProtoName(uint32_t ip_proto);

// One line, without the trailing newline. `missing` names the expected
// parts that never arrived; they are listed under "_missing".
std::string RenderRecord(const gourmet::v1::Record& record,
                         const std::vector<std::string>& missing = {});

}  // namespace gourmet::sink
