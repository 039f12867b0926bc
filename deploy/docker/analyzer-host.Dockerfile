# syntax=docker/dockerfile:1
# Gourmet analyzer-host: runs the analyzer plugins over connections.
#
# Build from the repository root (the build context is the whole tree):
#   docker build -f deploy/docker/analyzer-host.Dockerfile -t gourmet/analyzer-host:0.1.0 .
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
LABEL org.opencontainers.image.title="gourmet-analyzer-host" \
      org.opencontainers.image.description="Gourmet analyzer-host: runs the analyzer plugins over connections" \
      org.opencontainers.image.version="0.1.0"
# Runtime libraries only (Debian 12 names).
RUN apt-get update \
  && apt-get install -y --no-install-recommends \
       libgrpc++1.51 libprotobuf32 libyaml-cpp0.7 libpcap0.8 libabsl20220623 \
       libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libssl3 libcurl4 \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 65532 gourmet \
  && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent \
       --no-create-home --shell /usr/sbin/nologin gourmet
COPY --from=build /src/build/bin/analyzer-host /usr/bin/analyzer-host
COPY --from=build /src/build/plugins/*.so /usr/lib/gourmet/plugins/
COPY deploy/docker/config/analyzer-host.yaml /etc/gourmet/analyzer-host.yaml
USER 65532:65532
EXPOSE 50051 9102
ENTRYPOINT ["/usr/bin/analyzer-host"]
CMD ["-c", "/etc/gourmet/analyzer-host.yaml"]
