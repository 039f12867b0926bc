#!/usr/bin/env bash
# A real Prometheus scrapes the real services.
#
# Starts log-sink and analyzer-host from build/bin on loopback (gRPC on port
# 0, metrics on free ports), and Debian's Prometheus server on a free loopback
# port with a temporary config that scrapes them and loads
# deploy/prometheus/rules.yml. Then capture-agent replays tests/data/sample.pcap
# through them, and the test asks Prometheus's HTTP API (/api/v1/query,
# /api/v1/rules, /api/v1/alerts) whether it sees the targets up, the
# connections counted by the analyzer and stored by the sink, the alert rules
# loaded and healthy, and no alert firing.
#
#   tests/deploy/prometheus_scrape_test.sh
#
# Needs the built binaries (build/bin, build/plugins, or $GOURMET_BIN_DIR and
# $GOURMET_PLUGIN_DIR). Prometheus comes from the tools cache (tools.sh).
# Every process it starts is stopped by PID on exit. Prints
# "N passed, M failed" last; exits non-zero on failure.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$REPO_ROOT" || exit 2
BIN_DIR=${GOURMET_BIN_DIR:-$REPO_ROOT/build/bin}
PLUGIN_DIR=${GOURMET_PLUGIN_DIR:-$REPO_ROOT/build/plugins}
PCAP=$REPO_ROOT/tests/data/sample.pcap

PASSED=0
FAILED=0
PIDS=()
DIR=$(mktemp -d "${TMPDIR:-/tmp}/gourmet-scrape.XXXXXX")
START=$SECONDS

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    # Up to 5 s for a clean exit, then SIGKILL.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL $1"
  [ $# -gt 1 ] && [ -s "$2" ] && tail -n 30 "$2" | sed 's/^/       /'
  return 0
}
finish() {
  echo "scrape test took $((SECONDS - START))s"
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit
}

# A loopback TCP port nobody listens on (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for SECONDS COMMAND...: retries COMMAND every 0.2 s.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

# --- tools and binaries ----------------------------------------------------------
if ensure_prometheus >"$DIR/tools.log" 2>&1 && ensure_curl >>"$DIR/tools.log" 2>&1 &&
  { command -v python3 >/dev/null || _apt_install python3; } >>"$DIR/tools.log" 2>&1; then
  pass "tools: prometheus $("$PROMETHEUS" --version 2>&1 | head -n 1 | awk '{print $3}'), curl, python3"
else
  fail "tools: prometheus, curl, python3" "$DIR/tools.log"
  finish
fi
missing=""
for f in "$BIN_DIR/log-sink" "$BIN_DIR/analyzer-host" "$BIN_DIR/capture-agent" "$PLUGIN_DIR/bytes.so" "$PCAP"; do
  [ -e "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
  echo "missing:$missing (build the tree first)" >"$DIR/missing.log"
  fail "built services and sample capture present" "$DIR/missing.log"
  finish
fi
pass "built services and sample capture present"

# --- the services ------------------------------------------------------------------
PORT_S=$(free_port)
PORT_A=$(free_port)
PORT_C=$(free_port)
PORT_L=$(free_port)
PORT_P=$(free_port)
while [ "$PORT_A" = "$PORT_S" ]; do PORT_A=$(free_port); done
while [ "$PORT_C" = "$PORT_S" ] || [ "$PORT_C" = "$PORT_A" ]; do PORT_C=$(free_port); done
while [ "$PORT_P" = "$PORT_S" ] || [ "$PORT_P" = "$PORT_A" ] || [ "$PORT_P" = "$PORT_C" ]; do PORT_P=$(free_port); done

"$BIN_DIR/log-sink" --listen 127.0.0.1:0 --port-file "$DIR/sink.port" \
  --metrics "127.0.0.1:$PORT_S" -o "$DIR/gourmet.log" >"$DIR/sink.out" 2>&1 &
PIDS+=($!)
if wait_for 15 test -s "$DIR/sink.port"; then
  pass "log-sink serving (gRPC port $(cat "$DIR/sink.port"), metrics $PORT_S)"
else
  fail "log-sink serving" "$DIR/sink.out"
  finish
fi

"$BIN_DIR/analyzer-host" --listen 127.0.0.1:0 --port-file "$DIR/an.port" \
  --sink "127.0.0.1:$(cat "$DIR/sink.port")" --metrics "127.0.0.1:$PORT_A" \
  --plugin-dir "$PLUGIN_DIR" --plugins bytes >"$DIR/analyzer.out" 2>&1 &
PIDS+=($!)
if wait_for 15 test -s "$DIR/an.port"; then
  pass "analyzer-host serving (gRPC port $(cat "$DIR/an.port"), metrics $PORT_A)"
else
  fail "analyzer-host serving" "$DIR/analyzer.out"
  finish
fi

# --- Prometheus ----------------------------------------------------------------------
cat >"$DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $REPO_ROOT/deploy/prometheus/rules.yml
scrape_configs:
  - job_name: gourmet-log-sink
    static_configs:
      - targets: ["127.0.0.1:$PORT_S"]
  - job_name: gourmet-analyzer
    static_configs:
      - targets: ["127.0.0.1:$PORT_A"]
  # The agent exits as soon as the file is delivered: it may or may not be
  # scraped in time, so nothing below depends on this job.
  - job_name: gourmet-capture-agent
    static_configs:
      - targets: ["127.0.0.1:$PORT_C"]
  # A capture agent that stays up: live capture on loopback.
  - job_name: gourmet-capture-agent-live
    static_configs:
      - targets: ["127.0.0.1:$PORT_L"]
EOF
check_config() { "$PROMTOOL" check config "$DIR/prometheus.yml" >"$DIR/promtool.out" 2>&1; }
if check_config; then pass "promtool check config (scrape config + rules.yml)"; else fail "promtool check config" "$DIR/promtool.out"; fi

"$PROMETHEUS" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
  --web.listen-address="127.0.0.1:$PORT_P" --storage.tsdb.retention.time=1h \
  --log.level=warn >"$DIR/prometheus.out" 2>&1 &
PIDS+=($!)
PROM=http://127.0.0.1:$PORT_P
if wait_for 30 curl -fsS "$PROM/-/ready"; then
  pass "prometheus ready on 127.0.0.1:$PORT_P"
else
  fail "prometheus ready" "$DIR/prometheus.out"
  finish
fi

# query PROMQL: prints the result's sample values, one per line.
query() {
  curl -fsS --get "$PROM/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
for r in d["data"]["result"]:
    print(r["value"][1])'
}
# query_is PROMQL VALUE: the query returns exactly one sample, equal to VALUE.
query_is() { [ "$(query "$1")" = "$2" ]; }
# query_positive PROMQL: the query returns one sample, > 0.
query_positive() { query "$1" | python3 -c 'import sys; v = sys.stdin.read().split(); sys.exit(0 if len(v) == 1 and float(v[0]) > 0 else 1)'; }

for job in gourmet-log-sink gourmet-analyzer; do
  if wait_for 30 query_is "up{job=\"$job\"}" 1; then
    pass "prometheus scrapes $job: up == 1"
  else
    echo "up{job=\"$job\"} = $(query "up{job=\"$job\"}" 2>&1)" >"$DIR/q.out"
    fail "prometheus scrapes $job: up == 1" "$DIR/q.out"
  fi
done

for port in "$PORT_S" "$PORT_A"; do
  if curl -fsS "http://127.0.0.1:$port/metrics" >"$DIR/metrics.txt" 2>&1 &&
    "$PROMTOOL" check metrics <"$DIR/metrics.txt" >"$DIR/lint.out" 2>&1; then
    pass "promtool check metrics: 127.0.0.1:$port/metrics follows the naming conventions"
  else
    cat "$DIR/metrics.txt" >>"$DIR/lint.out"
    fail "promtool check metrics: 127.0.0.1:$port/metrics" "$DIR/lint.out"
  fi
done

# --- traffic ----------------------------------------------------------------------------
if timeout 120 "$BIN_DIR/capture-agent" -r "$PCAP" -a "127.0.0.1:$(cat "$DIR/an.port")" \
  --metrics "127.0.0.1:$PORT_C" --seed 1 >"$DIR/agent.out" 2>&1; then
  CONNS=$(sed -n 's/.* \([0-9][0-9]*\) connections in .*/\1/p' "$DIR/agent.out" | tail -n 1)
  if [ -n "$CONNS" ] && [ "$CONNS" -gt 0 ]; then
    pass "capture-agent delivered $CONNS connections from sample.pcap"
  else
    fail "capture-agent reported its connections" "$DIR/agent.out"
    CONNS=0
  fi
else
  fail "capture-agent replays sample.pcap" "$DIR/agent.out"
  CONNS=0
fi

# The counters Prometheus scrapes must reach what the agent delivered.
for series in gourmet_sink_records gourmet_analyzer_connections_total; do
  if wait_for 30 query_is "$series" "$CONNS"; then
    pass "prometheus has $series == $CONNS"
  elif query_positive "$series"; then
    pass "prometheus has $series > 0 ($(query "$series"), agent said $CONNS)"
  else
    echo "$series = $(query "$series" 2>&1)" >"$DIR/q.out"
    fail "prometheus has $series > 0" "$DIR/q.out"
  fi
done
if query_is 'sum(gourmet_plugin_calls_total{plugin="bytes"})' "$CONNS"; then
  pass "prometheus has gourmet_plugin_calls_total{plugin=\"bytes\"} == $CONNS"
else
  echo "got $(query 'sum(gourmet_plugin_calls_total{plugin="bytes"})' 2>&1)" >"$DIR/q.out"
  fail "prometheus has gourmet_plugin_calls_total{plugin=\"bytes\"} == $CONNS" "$DIR/q.out"
fi
if [ -s "$DIR/gourmet.log" ] && [ "$(wc -l <"$DIR/gourmet.log")" -eq "$CONNS" ]; then
  pass "the sink's log has $CONNS lines"
else
  echo "log lines: $(wc -l <"$DIR/gourmet.log" 2>/dev/null)" >"$DIR/q.out"
  fail "the sink's log has $CONNS lines" "$DIR/q.out"
fi

# --- the alert rules, evaluated by the real server --------------------------------------
rules_ok() {
  curl -fsS "$PROM/api/v1/rules" | python3 -c 'import json, sys
d = json.load(sys.stdin)
groups = d["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [(r["name"], r.get("health"), r.get("lastError")) for r in rules if r.get("health") != "ok"]
print(len(groups), "groups,", len(rules), "rules; not ok:", bad)
sys.exit(0 if groups and rules and not bad else 1)'
}
if wait_for 20 rules_ok; then
  pass "prometheus loaded deploy/prometheus/rules.yml and evaluates every rule without error ($(rules_ok))"
else
  rules_ok >"$DIR/q.out" 2>&1
  fail "prometheus evaluates rules.yml without error" "$DIR/q.out"
fi
# A live agent (capturing on loopback, where this test's own traffic runs):
# Prometheus must see it up and its packet counter moving.
"$BIN_DIR/capture-agent" -i lo --source pcap -a "127.0.0.1:$(cat "$DIR/an.port")" \
  --metrics "127.0.0.1:$PORT_L" --stats-interval 1s >"$DIR/live-agent.out" 2>&1 &
LIVE_PID=$!
PIDS+=($LIVE_PID)
if wait_for 30 query_is 'up{job="gourmet-capture-agent-live"}' 1; then
  pass "prometheus scrapes gourmet-capture-agent-live: up == 1"
else
  fail "prometheus scrapes the live capture agent" "$DIR/live-agent.out"
fi
if wait_for 30 query_positive 'gourmet_agent_packets_total{job="gourmet-capture-agent-live"}'; then
  pass "prometheus has gourmet_agent_packets_total > 0 from the live agent"
else
  fail "live agent packets in prometheus" "$DIR/live-agent.out"
fi
kill -TERM "$LIVE_PID" 2>/dev/null
if wait "$LIVE_PID"; then
  pass "the live agent stops cleanly on SIGTERM"
else
  fail "the live agent stops cleanly on SIGTERM" "$DIR/live-agent.out"
fi

no_alerts() {
  curl -fsS "$PROM/api/v1/alerts" | python3 -c 'import json, sys
# The agent has exited: its target is down and it reads no packets; that is expected.
alerts = [a for a in json.load(sys.stdin)["data"]["alerts"]
          if a["labels"].get("job") not in ("gourmet-capture-agent", "gourmet-capture-agent-live") and a["labels"].get("alertname") != "GourmetCaptureNoPackets"]
print(alerts)
sys.exit(0 if not alerts else 1)'
}
if no_alerts >"$DIR/q.out" 2>&1; then
  pass "no alert pending or firing on a healthy pipeline"
else
  fail "no alert pending or firing on a healthy pipeline" "$DIR/q.out"
fi

finish
