#!/usr/bin/env bash
# One command to install what is needed, build, and run every test: unit,
# end-to-end with real processes, and short libFuzzer runs of every fuzz
# target (a separate clang build in build-fuzz/). CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
BUILD_DIR=${GOURMET_BUILD:-build}
FUZZ_DIR=${GOURMET_FUZZ_BUILD:-build-fuzz}
status=0
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 600 -j2 -LE fuzz "$@") || status=1

# Fuzz targets: only the parsers and the packet path, built with clang and
# sanitizers, each run briefly over its committed corpus.
if [ ! -f "$FUZZ_DIR/build.ninja" ]; then
  cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DGOURMET_FUZZ=ON -DGOURMET_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
targets=$(ninja -C "$FUZZ_DIR" -t targets all | sed -n 's/^\(fuzz\/[a-z0-9_]*_fuzz\): .*/\1/p' | sort -u)
if [ -n "$targets" ]; then
  ninja -C "$FUZZ_DIR" $targets
  (cd "$FUZZ_DIR" && ctest --output-on-failure -L fuzz) || status=1
fi
exit $status
