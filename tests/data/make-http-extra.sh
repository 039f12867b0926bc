#!/usr/bin/env bash
# tests/data/make-http-extra.sh - capture tests/data/http-extra.pcap: the
# HTTP/1.1 cases sample.pcap lacks, between curl (and a pipelining python3
# client) and nginx over a veth pair between two network namespaces:
# chunked responses, pipelining, HEAD, 100-continue, and HTTP on a port
# that is not 80. Needs root, iproute2, ethtool, nginx, curl, python3,
# tcpdump; tshark for the summary. Touches no real interface.
#
#   sudo tests/data/make-http-extra.sh [OUTPUT.pcap]
#
# Environment: NETNS_PREFIX (default gmhx), KEEP_TMP=1 keeps the temp dir.
#
# Client (10.77.0.1) -> server (10.77.0.2), nginx on 8080 only:
#   40301 curl --compressed GET /words.txt: gzip, so the response is chunked
#   40302 python3: three pipelined requests in one write (GET, GET gzip-chunked, GET 404)
#   40303 curl -I (HEAD): Content-Length but no body
#   40304 curl PUT with Expect: 100-continue -> 100 Continue, then 201 (WebDAV)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/http-extra.pcap}
case $out in /*) ;; *) out=$PWD/$out ;; esac

# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
. "$repo/tests/lib/netns.sh"

[ "$(id -u)" -eq 0 ] || { echo "make-http-extra.sh: must run as root" >&2; exit 1; }
for cmd in ip ss ethtool nginx curl python3 tcpdump; do
    command -v "$cmd" >/dev/null || { echo "make-http-extra.sh: $cmd not found" >&2; exit 1; }
done

NETNS_PREFIX=${NETNS_PREFIX:-gmhx}
SRV4=10.77.0.2 CLI4=10.77.0.1
# shellcheck disable=SC2034  # read by netns_setup
NETNS_CLI_IP4=$CLI4 NETNS_SRV_IP4=$SRV4
HOST=www.gourmet.test

tmp=$(mktemp -d /tmp/gourmet-httpx.XXXXXX)
ok=0
finish() {
    netns_cleanup
    if [ "$ok" -ne 1 ]; then
        echo "make-http-extra.sh: FAILED; logs from $tmp:" >&2
        for f in "$tmp"/*.log; do
            [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "make-http-extra.sh: kept $tmp" >&2
    else
        rm -rf -- "$tmp"
    fi
}
trap finish EXIT
trap 'exit 130' INT TERM
trap 'echo "make-http-extra.sh: line $LINENO: command failed (status $?)" >&2' ERR

www=$tmp/www
mkdir -p "$www" "$tmp/nginx"
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "word-%05d gourmet chunked sample line\n", i; }' \
    >"$www/words.txt"
printf 'plain\n' >"$www/a.txt"
find "$www" -exec touch -h -d '2026-01-01 00:00:00 UTC' {} +
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
    types { text/plain txt; }
    default_type application/octet-stream;
    server_tokens off;
    keepalive_timeout 30s;
    # gzip makes the length unknown up front: HTTP/1.1 responses go chunked.
    gzip on;
    gzip_types text/plain;
    gzip_min_length 0;
    server {
        listen $SRV4:8080;
        server_name $HOST;
        root $www;
        # WebDAV PUT reads the body, so nginx answers Expect with 100 Continue.
        location /upload/ {
            dav_methods PUT;
            create_full_put_path on;
            client_body_temp_path $tmp/nginx/dav;
        }
    }
}
EOF

netns_setup
netns_bg "$NETNS_SRV" nginx -p "$tmp/nginx" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" \
    >"$tmp/nginx-stdout.log" 2>&1
netns_wait_listen "$NETNS_SRV" tcp 8080

netns_bg "$NETNS_CLI" tcpdump -i "$NETNS_CLI_IF" -w "$tmp/http.pcap" -s 0 -U -n -Z root \
    >"$tmp/tcpdump.log" 2>&1
tcpdump_pid=$NETNS_LAST_PID
netns_wait_file "$tmp/tcpdump.log" 'listening on'
sleep 0.5

cli() { netns_exec "$NETNS_CLI" "$@" 2>&1 | tee -a "$tmp/clients.log"; }
W='%{http_code} %{method} %{url_effective} bytes=%{size_download} port=%{local_port}\n'
C=(curl -sS --resolve "$HOST:8080:$SRV4" -w "$W" -o /dev/null)

cli "${C[@]}" --local-port 40301 --compressed "http://$HOST:8080/words.txt"
# Pipelining: all three requests leave in one segment before any response.
cli python3 - "$CLI4" 40302 "$SRV4" 8080 "$HOST" <<'PY'
import socket, sys, time
cli, port, srv, sport, host = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
s = socket.socket()
s.bind((cli, port))
s.connect((srv, sport))
reqs = [f"GET /a.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gourmet-pipeline/1\r\n\r\n",
        f"GET /words.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gourmet-pipeline/1\r\n"
        "Accept-Encoding: gzip\r\n\r\n",
        f"GET /missing HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gourmet-pipeline/1\r\n"
        "Connection: close\r\n\r\n"]
s.sendall("".join(reqs).encode())
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
s.close()
print("pipelined:", data.count(b"HTTP/1.1 "), "responses,", len(data), "bytes")
PY
cli "${C[@]}" --local-port 40303 -I "http://$HOST:8080/a.txt"
cli "${C[@]}" --local-port 40304 -X PUT -H 'Expect: 100-continue' -H 'Content-Type: text/plain' \
    --data-binary 'a small body for 100-continue' "http://$HOST:8080/upload/note.txt"

sleep 1
netns_stop "$tcpdump_pid" INT
cat "$tmp/tcpdump.log"

size=$(wc -c <"$tmp/http.pcap")
if [ "$size" -ge 1048576 ]; then
    echo "make-http-extra.sh: capture is $size bytes (limit 1 MiB)" >&2
    exit 1
fi
mv -f "$tmp/http.pcap" "$out"
netns_cleanup
ok=1

echo "make-http-extra.sh: wrote $out ($size bytes)"
if command -v tshark >/dev/null; then
    tshark -r "$out" -q -z conv,tcp 2>/dev/null
fi
