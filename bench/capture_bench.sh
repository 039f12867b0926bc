#!/usr/bin/env bash
# Whole-run capture benchmark on a large pcap, all measured in one run on
# the same cached file: libpcap's bare read (tcpdump -r X -w /dev/null, the
# floor), the capture agent exporting to an analyzer endpoint that discards
# (bench/discard_analyzer.cc), tshark's TCP
# conversation table, and tcpflow. Prints packets/s, Gbit/s and peak memory,
# and each rate as a ratio to the floor, as a Markdown table (median of RUNS
# runs per tool, after one warm-up run).
#
#   bench/capture_bench.sh [PCAP] [--gigabytes N]   (makes PCAP if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
PCAP=${1:-/tmp/gourmet-bench-1g.pcap}
GB=${GB:-1.0}
WORKERS=${WORKERS:-1}
BIN=${GOURMET_BUILD:-build}/bin
for pkg in tcpflow time; do
  dpkg-query -W -f='${Status}' $pkg 2>/dev/null | grep -q "ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkg >/dev/null
done
[ -f "$PCAP" ] || python3 bench/make_big_pcap.py "$PCAP" --gigabytes "$GB"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

packets=$(capinfos -c -M "$PCAP" | awk -F': *' '/Number of packets/ {print $2}')
bytes=$(stat -c %s "$PCAP")
cat "$PCAP" >/dev/null  # into the page cache, so every tool reads from memory

# The agent exports to an endpoint that acknowledges batches unread, so the
# figure is the agent's own cost (decode, flows, reassembly, serialisation).
"${GOURMET_BUILD:-build}/bench/discard_analyzer" "$tmp/an.port" >/dev/null & pids+=($!)
while [ ! -s "$tmp/an.port" ]; do sleep 0.05; done

# Peak RSS counts pages of the pcap that a tool maps (the agent reads it
# through mmap and sends payload from there): shared page cache, not memory
# of its own. So the peak of its private memory (RssAnon) is sampled too,
# every 50 ms with shell builtins (forking a reader would disturb the run).
run_once() {  # name, command...: prints "seconds max_rss_kib user sys max_anon_kib"
  local name=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local tpid=$! pid="" anon=0 k v rest
  while kill -0 "$tpid" 2>/dev/null; do
    [ -n "$pid" ] || pid=$(pgrep -P "$tpid" | head -1 || true)
    if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
      while read -r k v rest; do
        if [ "$k" = RssAnon: ] && [ "$v" -gt "$anon" ]; then anon=$v; fi
      done <"/proc/$pid/status" 2>/dev/null || true
    fi
    sleep 0.05
  done
  wait "$tpid" || { echo "$name failed:" >&2; tail -5 "$tmp/$name.err" >&2; return 1; }
  echo "$(cat "$tmp/time") $anon"
}

# Each tool runs once to warm up (caches, and the discarding analyzer's
# heap), then RUNS times (default 3); its median run by wall time is kept:
# one run on a shared 2-core machine is too noisy to compare.
RUNS=${RUNS:-3}
measure() {  # name, command...: prints "name seconds max_rss_kib user sys max_anon_kib"
  local name=$1; shift
  run_once "$name" "$@" >/dev/null
  for _ in $(seq "$RUNS"); do run_once "$name" "$@"; done | sort -n | sed -n "$(((RUNS + 1) / 2))p" |
    sed "s/^/$name /"
}

{
  measure floor tcpdump -r "$PCAP" -w /dev/null
  measure gourmet "$BIN/capture-agent" -r "$PCAP" -a "127.0.0.1:$(cat "$tmp/an.port")" --metrics '' \
    --seed 1 -w "$WORKERS"
  measure tshark tshark -r "$PCAP" -q -z conv,tcp
  mkdir -p "$tmp/tcpflow"
  measure tcpflow tcpflow -r "$PCAP" -o "$tmp/tcpflow"
} >"$tmp/results"

floor=$(awk '$1 == "floor" {print $2}' "$tmp/results")
floor_cpu=$(awk '$1 == "floor" {print $4 + $5}' "$tmp/results")
echo "pcap: $PCAP, $packets packets, $(awk -v b="$bytes" 'BEGIN {printf "%.2f", b / 1e9}') GB, capture workers: $WORKERS"
echo
# Wall-clock rates suffer from whatever else runs on the machine; CPU time
# (user + sys of the measured process) is the steadier comparison.
echo "| tool | seconds | CPU seconds | packets/s | Gbit/s | peak RSS MiB | peak private MiB | rate vs floor | CPU vs floor |"
echo "|---|---|---|---|---|---|---|---|---|"
while read -r name secs rss user sys anon; do
  awk -v n="$name" -v s="$secs" -v r="$rss" -v a="$anon" -v c="$(awk -v u="$user" -v y="$sys" 'BEGIN {print u + y}')" \
      -v p="$packets" -v b="$bytes" -v f="$floor" -v fc="$floor_cpu" 'BEGIN {
    printf "| %s | %.2f | %.2f | %.0f | %.2f | %.0f | %.0f | %.2f | %.2f |\n", n, s, c, p / s, b * 8 / s / 1e9, r / 1024, a / 1024, f / s, fc / c }'
done <"$tmp/results"
grep -h "connections" "$tmp/gourmet.err" | tail -1
