#!/usr/bin/env bash
# tests/data/make-tls.sh - capture tests/data/tls.pcap: real TLS handshakes
# between curl / openssl s_client and nginx over a veth pair between two
# network namespaces. Needs root, iproute2, ethtool, nginx (with the ssl and
# http2 modules), openssl, curl, tcpdump; tshark for the summary. Touches no
# real interface. The server certificate is self-signed and made afresh by
# this script (so fingerprints of it change from one capture to the next).
#
#   sudo tests/data/make-tls.sh [OUTPUT.pcap]
#
# Environment: NETNS_PREFIX (default gmtls), KEEP_TMP=1 keeps the temp dir.
#
# Client (10.77.0.1) -> server (10.77.0.2), nginx on 443 and on 8443 (a
# non-standard port, for detection by content):
#   40101 curl TLS 1.2 only, ALPN http/1.1, SNI www.gourmet.test, GET /
#   40102 curl TLS 1.3, ALPN h2 + http/1.1 (h2 chosen), SNI www.gourmet.test
#   40103 openssl s_client -tls1_2, SNI api.gourmet.test, ALPN h2, port 8443
#   40104 openssl s_client -tls1_3, SNI www.gourmet.test, ALPN http/1.1
#   40105 curl TLS 1.2 to 8443 by IP address (no SNI), ECDHE-RSA-AES256-GCM-SHA384
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/tls.pcap}
case $out in /*) ;; *) out=$PWD/$out ;; esac

# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
. "$repo/tests/lib/netns.sh"

[ "$(id -u)" -eq 0 ] || { echo "make-tls.sh: must run as root" >&2; exit 1; }
for cmd in ip ss ethtool nginx openssl curl tcpdump; do
    command -v "$cmd" >/dev/null || { echo "make-tls.sh: $cmd not found" >&2; exit 1; }
done

NETNS_PREFIX=${NETNS_PREFIX:-gmtls}
SRV4=10.77.0.2 CLI4=10.77.0.1
# shellcheck disable=SC2034  # read by netns_setup
NETNS_CLI_IP4=$CLI4 NETNS_SRV_IP4=$SRV4
HOST=www.gourmet.test

tmp=$(mktemp -d /tmp/gourmet-tls.XXXXXX)
ok=0
finish() {
    netns_cleanup
    if [ "$ok" -ne 1 ]; then
        echo "make-tls.sh: FAILED; logs from $tmp:" >&2
        for f in "$tmp"/*.log; do
            [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "make-tls.sh: kept $tmp" >&2
    else
        rm -rf -- "$tmp"
    fi
}
trap finish EXIT
trap 'exit 130' INT TERM
trap 'echo "make-tls.sh: line $LINENO: command failed (status $?)" >&2' ERR

# --- a self-signed certificate with SANs -----------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -subj "/C=FR/O=Gourmet Test/CN=$HOST" \
    -addext "subjectAltName=DNS:$HOST,DNS:api.gourmet.test,IP:$SRV4" >"$tmp/openssl.log" 2>&1

mkdir -p "$tmp/www" "$tmp/nginx"
printf 'hello over tls\n' >"$tmp/www/index.html"
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
    default_type text/plain;
    server_tokens off;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    server {
        listen $SRV4:443 ssl http2;
        listen $SRV4:8443 ssl http2;
        server_name $HOST api.gourmet.test;
        root $tmp/www;
    }
}
EOF

# --- start -------------------------------------------------------------------
netns_setup
netns_bg "$NETNS_SRV" nginx -p "$tmp/nginx" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" \
    >"$tmp/nginx-stdout.log" 2>&1
netns_wait_listen "$NETNS_SRV" tcp 443
netns_wait_listen "$NETNS_SRV" tcp 8443

netns_bg "$NETNS_CLI" tcpdump -i "$NETNS_CLI_IF" -w "$tmp/tls.pcap" -s 0 -U -n -Z root \
    >"$tmp/tcpdump.log" 2>&1
tcpdump_pid=$NETNS_LAST_PID
netns_wait_file "$tmp/tcpdump.log" 'listening on'
sleep 0.5

# --- clients -------------------------------------------------------------------
cli() { netns_exec "$NETNS_CLI" "$@" 2>&1 | tee -a "$tmp/clients.log"; }
W='%{http_code} %{http_version} %{url_effective} port=%{local_port}\n'
C=(curl -sS -k -o /dev/null -w "$W" --resolve "$HOST:443:$SRV4" --resolve "$HOST:8443:$SRV4")

cli "${C[@]}" --local-port 40101 --tlsv1.2 --tls-max 1.2 --http1.1 "https://$HOST/"
cli "${C[@]}" --local-port 40102 --tlsv1.3 --http2 "https://$HOST/"
# s_client: -ign_eof keeps it until the server closes; 'Q' quits after the handshake.
sc() { echo Q | netns_exec "$NETNS_CLI" openssl s_client -brief "$@" >>"$tmp/clients.log" 2>&1 || true; }
sc -connect "$SRV4:8443" -bind "$CLI4:40103" -tls1_2 -servername api.gourmet.test -alpn h2
sc -connect "$SRV4:443" -bind "$CLI4:40104" -tls1_3 -servername "$HOST" -alpn http/1.1
cli "${C[@]}" --local-port 40105 --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES256-GCM-SHA384 \
    "https://$SRV4:8443/"

# --- stop the capture -------------------------------------------------------
sleep 1
netns_stop "$tcpdump_pid" INT
cat "$tmp/tcpdump.log"

size=$(wc -c <"$tmp/tls.pcap")
if [ "$size" -ge 1048576 ]; then
    echo "make-tls.sh: capture is $size bytes (limit 1 MiB)" >&2
    exit 1
fi
mv -f "$tmp/tls.pcap" "$out"
netns_cleanup
ok=1

echo "make-tls.sh: wrote $out ($size bytes)"
if command -v tshark >/dev/null; then
    tshark -r "$out" -q -z conv,tcp 2>/dev/null
fi
