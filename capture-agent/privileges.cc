#include "capture-agent/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gourmet::capture {

absl::Status DropPrivileges(const std::string& user) {
  errno = 0;
  passwd* pw = getpwnam(user.c_str());
  if (!pw) return absl::NotFoundError(absl::StrCat("--user: no user named '", user, "'"));
  prctl(PR_SET_KEEPCAPS, 0);
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot switch to user '", user, "': ", std::strerror(errno)));
  }
  if (pw->pw_uid != 0 && setuid(0) == 0) {
    return absl::InternalError(
        absl::StrCat("switched to '", user, "' but could become root again"));
  }
  return absl::OkStatus();
}

}  // namespace gourmet::capture
