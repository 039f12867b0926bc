#!/usr/bin/env bash
# tests/data/make-sample.sh - recapture tests/data/sample.pcap from real
# clients and servers talking over a veth pair between two network
# namespaces. Needs root, iproute2, ethtool, nginx, dnsmasq, curl, dig,
# ping (iputils-ping), tcpdump, and tshark for the summary. Touches no real
# interface.
#
#   sudo tests/data/make-sample.sh [OUTPUT.pcap]
#
# Environment: NETNS_PREFIX (default gm: namespaces gm-cli / gm-srv),
# KEEP_TMP=1 to keep the temporary directory (configs, server logs).
#
# Client (gm-cli, 10.77.0.1 / fd77::1) -> server (gm-srv, 10.77.0.2 / fd77::2):
#   HTTP (nginx) over TCP/80, DNS (dnsmasq) over UDP/53 and TCP/53, ICMP echo.
# Fixed MACs, client ports, file contents and mtimes, offloads off and the
# TCP settings below make recaptures the same frame for frame (same count,
# order, lengths, flags, relative seq/ack). What still changes, as in any
# real capture: timestamps, TCP initial sequence numbers and TSval/TSecr, IP
# ids, DNS ids and EDNS cookies, the ICMP echo id, the HTTP Date header, and
# some window values in the client's ACKs during the 200 KB download.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/sample.pcap}
case $out in /*) ;; *) out=$PWD/$out ;; esac

# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
. "$repo/tests/lib/netns.sh"

[ "$(id -u)" -eq 0 ] || { echo "make-sample.sh: must run as root" >&2; exit 1; }
for cmd in ip ss ethtool taskset nginx dnsmasq curl dig ping tcpdump; do
    command -v "$cmd" >/dev/null || { echo "make-sample.sh: $cmd not found" >&2; exit 1; }
done

NETNS_PREFIX=${NETNS_PREFIX:-gm}
SRV4=10.77.0.2 SRV6=fd77::2 CLI4=10.77.0.1 CLI6=fd77::1
# shellcheck disable=SC2034  # read by netns_setup
NETNS_CLI_IP4=$CLI4 NETNS_SRV_IP4=$SRV4 NETNS_CLI_IP6=$CLI6 NETNS_SRV_IP6=$SRV6
HOST=www.gourmet.test

tmp=$(mktemp -d /tmp/gourmet-sample.XXXXXX)
ok=0
finish() {
    netns_cleanup
    if [ "$ok" -ne 1 ]; then
        echo "make-sample.sh: FAILED; logs from $tmp:" >&2
        for f in "$tmp"/*.log; do
            [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "make-sample.sh: kept $tmp" >&2
    else
        rm -rf -- "$tmp"
    fi
}
trap finish EXIT
trap 'exit 130' INT TERM
trap 'echo "make-sample.sh: line $LINENO: command failed (status $?)" >&2' ERR

# --- web content: a few static files of different sizes, fixed mtimes -------
www=$tmp/www
mkdir -p "$www/files"
cat >"$www/index.html" <<'EOF'
<!DOCTYPE html>
<html>
<head><title>Gourmet sample</title></head>
<body>
<h1>Gourmet sample site</h1>
<p>This page is served by nginx inside a network namespace so that the
Gourmet sensor has real traffic to test against.</p>
<ul>
<li><a href="/small.txt">small.txt</a></li>
<li><a href="/data.json">data.json</a></li>
<li><a href="/files/big.bin">files/big.bin</a> (200 KiB)</li>
</ul>
</body>
</html>
EOF
printf 'hello from gourmet\n' >"$www/small.txt"
awk 'BEGIN {
    printf "{\"items\":[\n";
    for (i = 1; i <= 40; i++)
        printf "  {\"id\":%d,\"name\":\"item-%03d\",\"price\":%d.%02d}%s\n", i, i, i * 3, i, (i < 40 ? "," : "");
    printf "]}\n";
}' >"$www/data.json"
# 204800 bytes: 3200 lines of 64 bytes (easy to check after reassembly).
awk 'BEGIN {
    for (i = 0; i < 3200; i++)
        printf "%06d gourmet sample payload abcdefghijklmnopqrstuvwxyz 012345\n", i;
}' >"$www/files/big.bin"
[ "$(wc -c <"$www/files/big.bin")" -eq 204800 ]
find "$www" -exec touch -h -d '2026-01-01 00:00:00 UTC' {} +

# --- nginx config --------------------------------------------------------------
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $tmp/nginx-access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    types {
        text/html html;
        text/plain txt;
        application/json json;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    server_tokens off;
    keepalive_timeout 30s;
    server {
        listen $SRV4:80;
        listen [$SRV6]:80;
        server_name $HOST;
        root $www;
        location = /api/submit {
            default_type application/json;
            return 201 '{"status":"created","id":42}\n';
        }
    }
}
EOF

# --- start -------------------------------------------------------------------
netns_setup
# Make the bulk download depend as little as possible on scheduling, so that
# recaptures come out packet for packet the same: the client ACKs every
# segment at once (no delayed ACKs) and opens a receive window big enough for
# the whole file; the server may send it all in its first flight. nginx and
# the clients also run on one CPU (taskset -c 0), so the client's TCP input
# runs in nginx's send path instead of racing curl's reads (which would make
# the kernel merge segments in the socket backlog and send fewer ACKs).
netns_exec "$NETNS_CLI" sysctl -qw net.ipv4.tcp_rmem="4096 1048576 6291456"
ip -n "$NETNS_CLI" route replace 10.77.0.0/24 dev "$NETNS_CLI_IF" src "$CLI4" quickack 1 initrwnd 300
ip -n "$NETNS_CLI" -6 route replace fd77::/64 dev "$NETNS_CLI_IF" metric 256 quickack 1 initrwnd 300
netns_exec "$NETNS_SRV" sysctl -qw net.ipv4.tcp_wmem="4096 1048576 4194304"
ip -n "$NETNS_SRV" route replace 10.77.0.0/24 dev "$NETNS_SRV_IF" src "$SRV4" initcwnd 300
ip -n "$NETNS_SRV" -6 route replace fd77::/64 dev "$NETNS_SRV_IF" metric 256 initcwnd 300
echo "make-sample.sh: namespaces $NETNS_CLI ($NETNS_CLI_IF) <-> $NETNS_SRV ($NETNS_SRV_IF)"

netns_bg "$NETNS_SRV" taskset -c 0 nginx -p "$tmp/nginx" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" \
    >"$tmp/nginx-stdout.log" 2>&1

netns_bg "$NETNS_SRV" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
    --pid-file="$tmp/dnsmasq.pid" --user=root --group=root \
    --listen-address="$SRV4" --listen-address="$SRV6" --bind-interfaces --port=53 \
    --log-queries --log-facility=- \
    --local=/gourmet.test/ \
    --host-record=www.gourmet.test,$SRV4,$SRV6 \
    --host-record=mail.gourmet.test,10.77.0.25,fd77::25 \
    --address=/cdn.gourmet.test/$SRV4 \
    --mx-host=gourmet.test,mail.gourmet.test,10 \
    --txt-record='gourmet.test,v=spf1 mx -all,gourmet sample zone' \
    >"$tmp/dnsmasq.log" 2>&1

netns_wait_listen "$NETNS_SRV" tcp 80
netns_wait_listen "$NETNS_SRV" udp 53
netns_wait_listen "$NETNS_SRV" tcp 53

# Capture in the client namespace (its veth sees both directions). Written
# to the temp dir first so a failed run leaves the old sample in place.
netns_bg "$NETNS_CLI" tcpdump -i "$NETNS_CLI_IF" -w "$tmp/sample.pcap" -s 0 -U -n -Z root \
    >"$tmp/tcpdump.log" 2>&1
tcpdump_pid=$NETNS_LAST_PID
netns_wait_file "$tmp/tcpdump.log" 'listening on'
sleep 0.5

# --- clients -------------------------------------------------------------------
cli() { netns_exec "$NETNS_CLI" taskset -c 0 "$@" 2>&1 | tee -a "$tmp/clients.log"; }
W='%{http_code} %{method} %{url_effective} bytes=%{size_download} connects=%{num_connects} port=%{local_port}\n'
resolve4="$HOST:80:$SRV4"
resolve6="$HOST:80:[$SRV6]"

# 1. Three requests over one keep-alive connection.
cli curl -sS --local-port 40001 --resolve "$resolve4" -w "$W" \
    -o /dev/null -o /dev/null -o /dev/null \
    "http://$HOST/" "http://$HOST/small.txt" "http://$HOST/data.json"
# 2. POST with a JSON body.
cli curl -sS --local-port 40002 --resolve "$resolve4" -w "$W" -o /dev/null \
    -H 'Content-Type: application/json' \
    --data-binary '{"sensor":"gourmet","items":[1,2,3],"note":"sample post body"}' \
    "http://$HOST/api/submit"
# 3. A 404.
cli curl -sS --local-port 40003 --resolve "$resolve4" -w "$W" -o /dev/null \
    "http://$HOST/no-such-page.html"
# 4. The 200 KiB download.
cli curl -sS --local-port 40004 --resolve "$resolve4" -w "$W" -o "$tmp/big.out" \
    "http://$HOST/files/big.bin"
cmp "$tmp/big.out" "$www/files/big.bin"
# 5. One request over IPv6.
cli curl -sS --local-port 40005 --resolve "$resolve6" -w "$W" -o /dev/null \
    "http://$HOST/index.html"

# DNS: A, AAAA (over IPv6), MX, TXT, NXDOMAIN, and one query over TCP.
D=(+tries=1 +time=2 +nocmd +noall +comments +answer)
cli dig "${D[@]}" @"$SRV4" -b "$CLI4#50001" www.gourmet.test A
cli dig "${D[@]}" @"$SRV6" -b "$CLI6#50002" www.gourmet.test AAAA
cli dig "${D[@]}" @"$SRV4" -b "$CLI4#50003" gourmet.test MX
cli dig "${D[@]}" @"$SRV4" -b "$CLI4#50004" gourmet.test TXT
cli dig "${D[@]}" @"$SRV4" -b "$CLI4#50005" nosuch.gourmet.test A
cli dig "${D[@]}" +tcp @"$SRV4" -b "$CLI4#50006" img.cdn.gourmet.test A

# ICMP echo.
cli ping -n -c 2 -i 0.2 -W 2 "$SRV4"

# --- stop the capture -------------------------------------------------------
sleep 1
netns_stop "$tcpdump_pid" INT      # SIGINT: tcpdump flushes and closes the file
cat "$tmp/tcpdump.log"

size=$(wc -c <"$tmp/sample.pcap")
if [ "$size" -ge 1048576 ]; then
    echo "make-sample.sh: capture is $size bytes (limit 1 MiB)" >&2
    exit 1
fi
mv -f "$tmp/sample.pcap" "$out"
netns_cleanup
ok=1

echo "make-sample.sh: wrote $out ($size bytes)"
if command -v tshark >/dev/null; then
    tshark -r "$out" -q -z conv,tcp -z conv,udp 2>/dev/null
fi
