#!/usr/bin/env bash
# Configures (once) and builds Gourmet into build/ with Ninja (and ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${GOURMET_BUILD:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
fi
ninja -C "$BUILD_DIR"
