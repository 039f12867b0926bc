#!/usr/bin/env bash
# One command to install what is needed, build, and run every test (unit,
# end-to-end with real processes, and the fuzz smoke runs). CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${GOURMET_BUILD:-build}"
ctest --output-on-failure --timeout 600 -j2 "$@"
