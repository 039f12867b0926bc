#!/usr/bin/env bash
# Installs every Debian 12 package Gourmet needs to build, test and run its demo.
# Idempotent: packages already present are skipped by apt-get. Needs root.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build ccache pkg-config g++ clang libclang-rt-14-dev git
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev nlohmann-json3-dev libyaml-cpp-dev libpcap-dev prometheus-cpp-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev
  # tests: reference dissectors, real servers and clients, network namespaces
  tshark tcpdump iproute2 nginx-light dnsmasq-base dnsutils curl iputils-ping ethtool python3
  openssl openssh-server openssh-client
  # tests: a gRPC client that is not ours (the log sink's Python grpcio test)
  python3-grpcio python3-grpc-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
