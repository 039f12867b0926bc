# shellcheck shell=bash
# tests/lib/netns.sh - helpers for tests that need real traffic in network
# namespaces. Source it from a bash script that runs as root:
#
#   . tests/lib/netns.sh
#   NETNS_PREFIX=gmt$$        # optional; keep it short (<= 8 characters)
#   trap netns_cleanup EXIT
#   netns_setup               # ${PREFIX}-cli <-veth-> ${PREFIX}-srv
#   netns_bg "$NETNS_SRV" nginx -c ... >log 2>&1   # PID in NETNS_LAST_PID
#   netns_wait_listen "$NETNS_SRV" tcp 80
#   netns_exec "$NETNS_CLI" curl http://10.77.0.2/
#
# Everything created here lives in the two namespaces; nothing is attached
# to the host's own network. netns_cleanup kills the recorded PIDs (and any
# stray process left inside the namespaces), then deletes the namespaces,
# which also removes the veth pair.
#
# Settings (set before netns_setup; the defaults are shown):
#   NETNS_PREFIX=gm            names: gm-cli, gm-srv, veth gm-c0 / gm-s0
#   NETNS_CLI_IP4=10.77.0.1    NETNS_SRV_IP4=10.77.0.2    NETNS_PLEN4=24
#   NETNS_CLI_IP6=fd77::1      NETNS_SRV_IP6=fd77::2      NETNS_PLEN6=64
#   NETNS_CLI_MAC=02:77:00:00:00:01   NETNS_SRV_MAC=02:77:00:00:00:02
#   NETNS_OFFLOADS=off         "on" keeps veth checksum/TSO/GSO offloads
# Fixed MAC addresses keep captures (and IPv6 link-local addresses)
# identical from run to run.
#
# After netns_setup: NETNS_CLI, NETNS_SRV (namespace names), NETNS_CLI_IF,
# NETNS_SRV_IF (veth names, each inside its own namespace).

NETNS_PIDS=()
NETNS_CREATED=()
NETNS_LAST_PID=

netns_log() { echo "netns: $*" >&2; }

# netns_setup: create ${NETNS_PREFIX}-cli and -srv joined by a veth pair.
netns_setup() {
    local p=${NETNS_PREFIX:-gm}
    NETNS_CLI=$p-cli
    NETNS_SRV=$p-srv
    NETNS_CLI_IF=$p-c0
    NETNS_SRV_IF=$p-s0
    : "${NETNS_CLI_IP4:=10.77.0.1}" "${NETNS_SRV_IP4:=10.77.0.2}" "${NETNS_PLEN4:=24}"
    : "${NETNS_CLI_IP6:=fd77::1}" "${NETNS_SRV_IP6:=fd77::2}" "${NETNS_PLEN6:=64}"
    : "${NETNS_CLI_MAC:=02:77:00:00:00:01}" "${NETNS_SRV_MAC:=02:77:00:00:00:02}"

    if [ "${#NETNS_CLI_IF}" -gt 15 ]; then
        netns_log "prefix '$p' too long for interface names (max 12 characters)"
        return 1
    fi
    local ns
    for ns in "$NETNS_CLI" "$NETNS_SRV"; do
        if [ -e "/run/netns/$ns" ]; then
            netns_log "namespace $ns already exists (another test? pick another NETNS_PREFIX)"
            return 1
        fi
    done
    for ns in "$NETNS_CLI" "$NETNS_SRV"; do
        ip netns add "$ns" || return 1
        NETNS_CREATED+=("$ns")
        ip -n "$ns" link set lo up || return 1
        # Keep the link quiet so only the test's traffic appears on it: no
        # router solicitations or autoconfiguration, no DAD (the link-local
        # address is usable at once too), and the unsolicited MLD reports
        # sent when the link comes up are over within a few milliseconds.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0 \
            net.ipv6.conf.default.autoconf=0 \
            net.ipv6.conf.default.router_solicitations=0 \
            net.ipv6.conf.default.accept_dad=0 \
            net.ipv6.conf.default.mldv1_unsolicited_report_interval=10 \
            net.ipv6.conf.default.mldv2_unsolicited_report_interval=10 || return 1
    done
    # Both ends are created directly inside their namespaces.
    ip link add "$NETNS_CLI_IF" address "$NETNS_CLI_MAC" netns "$NETNS_CLI" type veth \
        peer name "$NETNS_SRV_IF" address "$NETNS_SRV_MAC" netns "$NETNS_SRV" || return 1

    if [ "${NETNS_OFFLOADS:-off}" = off ]; then
        netns_offloads_off "$NETNS_CLI" "$NETNS_CLI_IF" || return 1
        netns_offloads_off "$NETNS_SRV" "$NETNS_SRV_IF" || return 1
    fi
    _netns_addr "$NETNS_CLI" "$NETNS_CLI_IF" "$NETNS_CLI_IP4/$NETNS_PLEN4" "$NETNS_CLI_IP6/$NETNS_PLEN6" || return 1
    _netns_addr "$NETNS_SRV" "$NETNS_SRV_IF" "$NETNS_SRV_IP4/$NETNS_PLEN4" "$NETNS_SRV_IP6/$NETNS_PLEN6" || return 1
    ip -n "$NETNS_CLI" link set "$NETNS_CLI_IF" up || return 1
    ip -n "$NETNS_SRV" link set "$NETNS_SRV_IF" up || return 1
    netns_wait_link "$NETNS_CLI" "$NETNS_CLI_IF" && netns_wait_link "$NETNS_SRV" "$NETNS_SRV_IF"
}

_netns_addr() {  # ns dev v4/len v6/len
    ip -n "$1" addr add "$3" dev "$2" || return 1
    # nodad: the address is usable at once instead of "tentative" for ~1 s.
    ip -n "$1" -6 addr add "$4" dev "$2" nodad || return 1
}

# netns_offloads_off NS DEV: turn off checksum and segmentation offloads,
# so that a capture on DEV holds what a wire would carry: frames no larger
# than the MTU, with correct TCP/UDP checksums (with offloads on, veth hands
# tcpdump 64 KB TCP "super-frames" and unfilled checksums). Needs ethtool;
# without it, warns and leaves the offloads on.
netns_offloads_off() {
    if ! command -v ethtool >/dev/null; then
        netns_log "ethtool not found: offloads stay on (frames > MTU, partial checksums in captures)"
        return 0
    fi
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null
}

# netns_wait_link NS DEV [TIMEOUT_S]: wait until DEV is up and has no
# tentative IPv6 address (the link-local one still goes through DAD).
netns_wait_link() {
    local ns=$1 dev=$2 t=${3:-10} i
    for ((i = 0; i < t * 10; i++)); do
        if ip -n "$ns" link show "$dev" | grep -q 'state UP' &&
            ! ip -n "$ns" -6 addr show dev "$dev" | grep -q tentative; then
            return 0
        fi
        sleep 0.1
    done
    netns_log "$dev in $ns not ready after ${t}s"
    return 1
}

# netns_exec NS CMD...: run CMD in NS in the foreground.
netns_exec() {
    local ns=$1; shift
    ip netns exec "$ns" "$@"
}

# netns_bg NS CMD...: run CMD in NS in the background. Redirect the call to
# capture its output. The PID (that of CMD itself: `ip netns exec` execs it)
# is recorded for netns_cleanup and left in NETNS_LAST_PID; the caller can
# `wait "$NETNS_LAST_PID"` since it is a child of the calling shell.
netns_bg() {
    local ns=$1; shift
    ip netns exec "$ns" "$@" &
    NETNS_LAST_PID=$!
    NETNS_PIDS+=("$NETNS_LAST_PID")
}

# netns_wait_listen NS tcp|udp PORT [TIMEOUT_S]: wait until something in NS
# listens on PORT. Looks at the socket table, so it sends no packet.
netns_wait_listen() {
    local ns=$1 proto=$2 port=$3 t=${4:-10} i flag
    case $proto in tcp) flag=-ltn ;; udp) flag=-lun ;; *) return 2 ;; esac
    for ((i = 0; i < t * 10; i++)); do
        if ip netns exec "$ns" ss -H "$flag" "sport = :$port" | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    netns_log "nothing listening on $proto/$port in $ns after ${t}s"
    return 1
}

# netns_wait_file FILE PATTERN [TIMEOUT_S]: wait until FILE contains PATTERN
# (e.g. tcpdump's "listening on" line).
netns_wait_file() {
    local f=$1 pat=$2 t=${3:-10} i
    for ((i = 0; i < t * 10; i++)); do
        grep -q -- "$pat" "$f" 2>/dev/null && return 0
        sleep 0.1
    done
    netns_log "'$pat' not seen in $f after ${t}s"
    return 1
}

# netns_stop PID [SIGNAL]: signal one recorded process (default TERM) and
# wait for it to exit (up to 5 s, then KILL).
netns_stop() {
    local pid=$1 sig=${2:-TERM} i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill "-$sig" "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        netns_log "PID $pid ignored SIG$sig; killing"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# netns_cleanup: stop every recorded PID, then anything still running inside
# the namespaces this file created, then delete those namespaces (which
# deletes the veth pair). Safe to call more than once; meant for `trap`.
netns_cleanup() {
    local pid ns
    for pid in "${NETNS_PIDS[@]}"; do
        netns_stop "$pid" TERM
    done
    NETNS_PIDS=()
    for ns in "${NETNS_CREATED[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            netns_log "stray PID $pid in $ns; killing"
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
    NETNS_CREATED=()
}
