#!/usr/bin/env bash
# Writes a large log-sink log for bench/sink_bench (not committed: 10 M
# records are about 5 GB): a log-sink (fsync none) fed by two sink-load
# clients through the real Ingest path, so the segments and their indexes
# are exactly what a sink writes.
#   bench/make_sink_log.sh DIR [RECORDS]     (default 10000000)
#   GOURMET_SINK_BENCH_LOG=DIR/sink.log build/bench/sink_bench
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: bench/make_sink_log.sh DIR [RECORDS]}
N=${2:-10000000}
BIN=${GOURMET_BUILD:-build}/bin
mkdir -p "$DIR"
rm -f "$DIR"/sink.* "$DIR"/sink-port
"$BIN/log-sink" --listen 127.0.0.1:0 --metrics '' -o "$DIR/sink.log" --fsync none \
  --rotate-bytes 256MiB --rotate-age 0 --port-file "$DIR/sink-port" 2>"$DIR/sink.err" &
SINK=$!
trap 'kill $SINK 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$DIR/sink-port" ] && break; sleep 0.1; done
PORT=$(cat "$DIR/sink-port")
HALF=$((N / 2))
t0=$(date +%s)
"$BIN/sink-load" --sink "127.0.0.1:$PORT" --prefix B --first 0 --records "$HALF" --batch 1000 --in-flight 8 &
A=$!
"$BIN/sink-load" --sink "127.0.0.1:$PORT" --prefix B --first "$HALF" --records $((N - HALF)) --batch 1000 --in-flight 8
wait $A
kill -TERM $SINK
wait $SINK || true
trap - EXIT
echo "make_sink_log: $N records in $(( $(date +%s) - t0 )) s: $(du -sh "$DIR" | cut -f1) in $DIR"
echo "GOURMET_SINK_BENCH_LOG=$DIR/sink.log"
