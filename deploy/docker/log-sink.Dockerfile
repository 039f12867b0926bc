# syntax=docker/dockerfile:1
# Gourmet log-sink: stores one JSON line per connection and serves queries.
#
# Build from the repository root (the build context is the whole tree):
#   docker build -f deploy/docker/log-sink.Dockerfile -t gourmet/log-sink:0.1.0 .
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
LABEL org.opencontainers.image.title="gourmet-log-sink" \
      org.opencontainers.image.description="Gourmet log-sink: stores one JSON line per connection and serves queries" \
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
COPY --from=build /src/build/bin/log-sink /usr/bin/log-sink
COPY deploy/docker/config/log-sink.yaml /etc/gourmet/log-sink.yaml
RUN mkdir -p /var/lib/gourmet && chown 65532:65532 /var/lib/gourmet
VOLUME /var/lib/gourmet
WORKDIR /var/lib/gourmet
USER 65532:65532
EXPOSE 50052 9103
ENTRYPOINT ["/usr/bin/log-sink"]
CMD ["-c", "/etc/gourmet/log-sink.yaml"]
