#!/usr/bin/env bash
# One command for a new user: install what is needed, build, and run the
# whole pipeline on the bundled sample pcap.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
OUT=${1:-gourmet-demo.log}
rm -f "$OUT"
echo
build/bin/gourmet run -r tests/data/sample.pcap -o "$OUT" "${@:2}"
echo
echo "The log is $(realpath "$OUT"), one JSON object per connection. The first three:"
head -n 3 "$OUT"
