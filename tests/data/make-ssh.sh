#!/usr/bin/env bash
# tests/data/make-ssh.sh - capture tests/data/ssh.pcap: real SSH version
# exchanges and key exchanges between the OpenSSH client and sshd over a
# veth pair between two network namespaces. Needs root, iproute2, ethtool,
# openssh-server, openssh-client, tcpdump; tshark for the summary. Touches
# no real interface. Host keys are generated afresh by this script; the
# client uses a bogus user in batch mode, so every session ends at
# authentication, after the key exchange.
#
#   sudo tests/data/make-ssh.sh [OUTPUT.pcap]
#
# Environment: NETNS_PREFIX (default gmssh), KEEP_TMP=1 keeps the temp dir.
#
# Client (10.77.0.1) -> server (10.77.0.2), sshd on 22 and on 2222 (a
# non-standard port, for detection by content):
#   40201 ssh, default algorithms, port 22
#   40202 ssh -o KexAlgorithms=ecdh-sha2-nistp256 -c aes128-ctr -m hmac-sha2-256, port 2222
#   40203 ssh -o KexAlgorithms=diffie-hellman-group-exchange-sha256 -o HostKeyAlgorithms=rsa-sha2-512, port 22
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/ssh.pcap}
case $out in /*) ;; *) out=$PWD/$out ;; esac

# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
. "$repo/tests/lib/netns.sh"

[ "$(id -u)" -eq 0 ] || { echo "make-ssh.sh: must run as root" >&2; exit 1; }
for cmd in ip ss ethtool ssh ssh-keygen tcpdump; do
    command -v "$cmd" >/dev/null || { echo "make-ssh.sh: $cmd not found" >&2; exit 1; }
done
[ -x /usr/sbin/sshd ] || { echo "make-ssh.sh: /usr/sbin/sshd not found (openssh-server)" >&2; exit 1; }

NETNS_PREFIX=${NETNS_PREFIX:-gmssh}
SRV4=10.77.0.2 CLI4=10.77.0.1
# shellcheck disable=SC2034  # read by netns_setup
NETNS_CLI_IP4=$CLI4 NETNS_SRV_IP4=$SRV4

tmp=$(mktemp -d /tmp/gourmet-ssh.XXXXXX)
ok=0
finish() {
    netns_cleanup
    if [ "$ok" -ne 1 ]; then
        echo "make-ssh.sh: FAILED; logs from $tmp:" >&2
        for f in "$tmp"/*.log; do
            [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "make-ssh.sh: kept $tmp" >&2
    else
        rm -rf -- "$tmp"
    fi
}
trap finish EXIT
trap 'exit 130' INT TERM
trap 'echo "make-ssh.sh: line $LINENO: command failed (status $?)" >&2' ERR

# --- sshd: its own host keys and config, nothing from /etc/ssh -------------
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_ed25519" -C gourmet-test
ssh-keygen -q -t rsa -b 2048 -N '' -f "$tmp/host_rsa" -C gourmet-test
ssh-keygen -q -t ed25519 -N '' -f "$tmp/client_id" -C gourmet-client
mkdir -p /run/sshd   # sshd's privilege separation directory
chmod 0755 /run/sshd
cat >"$tmp/sshd_config" <<EOF
ListenAddress $SRV4:22
ListenAddress $SRV4:2222
HostKey $tmp/host_ed25519
HostKey $tmp/host_rsa
PidFile $tmp/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel VERBOSE
EOF

netns_setup
# -D: stay in the foreground (its PID is the one recorded); -e: log to stderr.
netns_bg "$NETNS_SRV" /usr/sbin/sshd -D -e -f "$tmp/sshd_config" >"$tmp/sshd.log" 2>&1
netns_wait_listen "$NETNS_SRV" tcp 22
netns_wait_listen "$NETNS_SRV" tcp 2222

netns_bg "$NETNS_CLI" tcpdump -i "$NETNS_CLI_IF" -w "$tmp/ssh.pcap" -s 0 -U -n -Z root \
    >"$tmp/tcpdump.log" 2>&1
tcpdump_pid=$NETNS_LAST_PID
netns_wait_file "$tmp/tcpdump.log" 'listening on'
sleep 0.5

# --- clients -------------------------------------------------------------------
# ssh cannot choose its source port: a ProxyCommand that connects from a
# fixed one (bash's /dev/tcp cannot either), so nc-free: python3 socket.
proxy() {
    printf '%s' "python3 -c 'import socket,sys,os,select
s=socket.socket(); s.bind((\"$CLI4\",$1)); s.connect((\"$SRV4\",$2))
fds=[0,s.fileno()]
while True:
    r,_,_=select.select(fds,[],[])
    if 0 in r:
        d=os.read(0,65536)
        if not d: s.shutdown(socket.SHUT_WR); fds.remove(0)
        else: s.sendall(d)
    if s.fileno() in r:
        d=s.recv(65536)
        if not d: break
        os.write(1,d)
'"
}
S=(ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
   -o IdentitiesOnly=yes -i "$tmp/client_id" -o ConnectTimeout=5)
cli() { netns_exec "$NETNS_CLI" "$@" >>"$tmp/clients.log" 2>&1 || true; }
cli "${S[@]}" -o ProxyCommand="$(proxy 40201 22)" nobody-gourmet@"$SRV4" true
cli "${S[@]}" -o ProxyCommand="$(proxy 40202 2222)" -o KexAlgorithms=ecdh-sha2-nistp256 \
    -c aes128-ctr -m hmac-sha2-256 nobody-gourmet@"$SRV4" true
cli "${S[@]}" -o ProxyCommand="$(proxy 40203 22)" \
    -o KexAlgorithms=diffie-hellman-group-exchange-sha256 -o HostKeyAlgorithms=rsa-sha2-512 \
    nobody-gourmet@"$SRV4" true
grep -c 'Permission denied' "$tmp/clients.log" | grep -qx 3 ||
    { echo "make-ssh.sh: expected 3 refused logins" >&2; cat "$tmp/clients.log" >&2; exit 1; }

# --- stop the capture -------------------------------------------------------
sleep 1
netns_stop "$tcpdump_pid" INT
cat "$tmp/tcpdump.log"

size=$(wc -c <"$tmp/ssh.pcap")
if [ "$size" -ge 1048576 ]; then
    echo "make-ssh.sh: capture is $size bytes (limit 1 MiB)" >&2
    exit 1
fi
mv -f "$tmp/ssh.pcap" "$out"
netns_cleanup
ok=1

echo "make-ssh.sh: wrote $out ($size bytes)"
if command -v tshark >/dev/null; then
    tshark -r "$out" -q -z conv,tcp 2>/dev/null
fi
