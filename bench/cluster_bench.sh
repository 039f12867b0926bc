#!/usr/bin/env bash
# End-to-end throughput on one machine: capture-agent -> N analyzer-hosts
# (bytes, dns, http plugins) -> log-sink, as separate processes on loopback,
# for N = 1, 2, 3, and N = 1 again with mutual TLS on every hop. Prints
# connections per second (agent wall time, file read to last ack) and each as
# a ratio to one plaintext analyzer, as a Markdown table.
#
#   bench/cluster_bench.sh [PCAP]   (default: a 0.3 GB generated pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${GOURMET_BUILD:-build}/bin
PLUGINS=${GOURMET_BUILD:-build}/plugins
PCAP=${1:-/tmp/gourmet-bench-300m.pcap}
[ -f "$PCAP" ] || python3 bench/make_big_pcap.py "$PCAP" --gigabytes 0.3 >/dev/null
tmp=$(mktemp -d)
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap 'stop_all; rm -rf "$tmp"' EXIT
cat "$PCAP" >/dev/null

(cd "$tmp" && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=ca 2>/dev/null &&
  for n in node; do
    openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=gourmet 2>/dev/null
    printf 'subjectAltName=DNS:gourmet\n' >$n.ext
    openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 1 -extfile $n.ext 2>/dev/null
  done)
printf 'tls:\n  cert: %s\n  key: %s\n  ca: %s\n  server_name: gourmet\n' "$tmp/node.pem" "$tmp/node.key" "$tmp/ca.pem" >"$tmp/tls.yaml"
printf '{}\n' >"$tmp/plain.yaml"

run() {  # analyzers, config -> "seconds connections"
  local n=$1 cfg=$2
  rm -f "$tmp"/*.port "$tmp/log"*
  "$BIN/log-sink" --listen 127.0.0.1:0 --port-file "$tmp/sink.port" --metrics '' -o "$tmp/log" --fsync none \
    -c "$cfg" 2>/dev/null & pids+=($!)
  while [ ! -s "$tmp/sink.port" ]; do sleep 0.05; done
  local targets=()
  for i in $(seq 1 "$n"); do
    "$BIN/analyzer-host" --listen 127.0.0.1:0 --port-file "$tmp/an$i.port" --metrics '' -w 1 \
      --sink "127.0.0.1:$(cat "$tmp/sink.port")" --plugin-dir "$PLUGINS" --plugins bytes,dns,http \
      -c "$cfg" 2>/dev/null & pids+=($!)
    while [ ! -s "$tmp/an$i.port" ]; do sleep 0.05; done
    targets+=("127.0.0.1:$(cat "$tmp/an$i.port")")
  done
  local list
  list=$(IFS=,; echo "${targets[*]}")
  printf 'analyzer_streams: %d\n' "$n" >"$tmp/agent.yaml"
  [ "$cfg" = "$tmp/tls.yaml" ] && cat "$tmp/tls.yaml" >>"$tmp/agent.yaml"
  /usr/bin/time -f "%e" -o "$tmp/time" "$BIN/capture-agent" -r "$PCAP" -a "ipv4:$list" --metrics '' \
    -c "$tmp/agent.yaml" 2>"$tmp/agent.err"
  local conns
  conns=$(sed -n 's/.* \([0-9][0-9]*\) connections in .*/\1/p' "$tmp/agent.err" | tail -1)
  echo "$(cat "$tmp/time") $conns"
  stop_all
}

echo "pcap: $PCAP; sink with fsync none; plugins bytes, dns, http; 1 worker per analyzer; $(nproc) cores"
echo
echo "| setup | seconds | connections | connections/s | vs 1 analyzer |"
echo "|---|---|---|---|---|"
base=""
for setup in "1 plain" "2 plain" "3 plain" "1 tls"; do
  set -- $setup
  cfg=$tmp/plain.yaml
  [ "$2" = tls ] && cfg=$tmp/tls.yaml
  read -r secs conns < <(run "$1" "$cfg")
  rate=$(awk -v c="$conns" -v s="$secs" 'BEGIN {printf "%.0f", c / s}')
  [ -z "$base" ] && base=$rate
  label="$1 analyzer(s)"
  [ "$2" = tls ] && label="1 analyzer, mutual TLS on every hop"
  awk -v l="$label" -v s="$secs" -v c="$conns" -v r="$rate" -v b="$base" \
    'BEGIN {printf "| %s | %.2f | %d | %d | %.2f |\n", l, s, c, r, r / b}'
done
