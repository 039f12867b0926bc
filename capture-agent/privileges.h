// Dropping root once the capture sockets are open.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace gourmet::capture {

// Switches the process to `user` (its uid, gid and supplementary groups).
// Capabilities go with the uid change. Fails if it cannot, or if root could
// be regained afterwards.
absl::Status DropPrivileges(const std::string& user);

}  // namespace gourmet::capture
