#!/usr/bin/env bash
# Live capture benchmark: tcpreplay --topspeed replays a pcap into one end of
# a veth pair between two network namespaces made here; on the other end,
# first tcpdump -w /dev/null (the floor) and then the capture agent
# (AF_PACKET, exporting to an analyzer endpoint that discards) capture it.
# Reports the replay rate each saw and the kernel drops, as a Markdown table.
#
#   bench/live_bench.sh [PCAP]   (default: a 0.3 GB generated pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${GOURMET_BUILD:-build}
PCAP=${1:-/tmp/gourmet-bench-300m.pcap}
WORKERS=${WORKERS:-1}
for pkg in tcpreplay time; do
  dpkg-query -W -f='${Status}' $pkg 2>/dev/null | grep -q "ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkg >/dev/null
done
[ -f "$PCAP" ] || python3 bench/make_big_pcap.py "$PCAP" --gigabytes 0.3 >/dev/null
GEN=gmbench-gen CAP=gmbench-cap
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del $GEN 2>/dev/null || true
  ip netns del $CAP 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add $GEN
ip netns add $CAP
ip link add g0 netns $GEN type veth peer c0 netns $CAP
for ns in $GEN $CAP; do ip -n $ns link set lo up; done
ip -n $GEN link set g0 up
ip -n $CAP link set c0 up
packets=$(capinfos -c -M "$PCAP" | awk -F': *' '/Number of packets/ {print $2}')
cat "$PCAP" >/dev/null

replay() {  # prints the packets/s tcpreplay reached
  ip netns exec $GEN tcpreplay -q --topspeed -i g0 "$PCAP" 2>&1 |
    awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /pps/) print $(i-1)}' | tail -1
}

# The floor: tcpdump writing nothing.
ip netns exec $CAP tcpdump -i c0 -w /dev/null -n -B 65536 2>"$tmp/tcpdump.err" & pids+=($!)
sleep 1
floor_pps=$(replay)
sleep 1
kill -INT "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
floor_drops=$(awk '/dropped by kernel/ {print $1}' "$tmp/tcpdump.err")
floor_got=$(awk '/packets captured/ {print $1}' "$tmp/tcpdump.err")

# The agent, exporting to a discarding endpoint inside the capture namespace.
ip netns exec $CAP "$BUILD/bench/discard_analyzer" "$tmp/an.port" >/dev/null & pids+=($!)
while [ ! -s "$tmp/an.port" ]; do sleep 0.05; done
ip netns exec $CAP "$BUILD/bin/capture-agent" -i c0 -w "$WORKERS" --metrics '' --stats-interval 1h \
  -a "127.0.0.1:$(cat "$tmp/an.port")" 2>"$tmp/agent.err" & agent=$!
pids+=($agent)
while ! grep -qs "capturing on c0" "$tmp/agent.err"; do sleep 0.05; done
sleep 0.5
agent_pps=$(replay)
sleep 1
kill -TERM $agent; wait $agent || true
line=$(grep "capture on c0" "$tmp/agent.err" | tail -1)
agent_got=$(echo "$line" | sed -n 's/.*: \([0-9]*\) packets, .*/\1/p')
agent_drops=$(echo "$line" | sed -n 's/.*packets, \([0-9]*\) dropped.*/\1/p')

echo "replayed $packets packets from $PCAP into a veth with tcpreplay --topspeed; agent workers: $WORKERS"
echo
echo "| capturer | replay packets/s | captured | kernel drops | rate vs floor |"
echo "|---|---|---|---|---|"
echo "| tcpdump -w /dev/null | $floor_pps | $floor_got | $floor_drops | 1.00 |"
awk -v a="$agent_pps" -v f="$floor_pps" -v g="$agent_got" -v d="$agent_drops" \
  'BEGIN {printf "| capture-agent (AF_PACKET) | %s | %s | %s | %.2f |\n", a, g, d, a / f}'
