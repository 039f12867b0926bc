# syntax=docker/dockerfile:1
# Gourmet capture-agent: captures packets, rebuilds connections, streams them to the analyzer pool.
#
# Build from the repository root (the build context is the whole tree):
#   docker build -f deploy/docker/capture-agent.Dockerfile -t gourmet/capture-agent:0.1.0 .
# The build stage is the same in the three Dockerfiles, so building the three
# images compiles the tree once (the layers are shared through the cache).

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DGOURMET_BUILD_TESTS=OFF -DGOURMET_BUILD_BENCH=OFF \
  && ninja -C build

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="gourmet-capture-agent" \
      org.opencontainers.image.description="Gourmet capture-agent: captures packets, rebuilds connections, streams them to the analyzer pool" \
      org.opencontainers.image.version="0.1.0"
# Runtime libraries only (Debian 12 names).
RUN apt-get update \
  && apt-get install -y --no-install-recommends \
       libgrpc++1.51 libprotobuf32 libyaml-cpp0.7 libpcap0.8 libabsl20220623 \
       libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libssl3 \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 65532 gourmet \
  && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent \
       --no-create-home --shell /usr/sbin/nologin gourmet
COPY --from=build /src/build/bin/capture-agent /usr/bin/capture-agent
COPY deploy/docker/config/capture-agent.yaml /etc/gourmet/capture-agent.yaml
# Reading a pcap file needs no privilege, so the image runs as a plain user.
# Live capture needs root with CAP_NET_RAW (and NET_ADMIN, IPC_LOCK): the
# Kubernetes DaemonSet runs it as uid 0 with only those capabilities.
USER 65532:65532
EXPOSE 9101
ENTRYPOINT ["/usr/bin/capture-agent"]
CMD ["-c", "/etc/gourmet/capture-agent.yaml"]
