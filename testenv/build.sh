#!/usr/bin/env bash
# Builds the real components the tests run against (kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd, kwok, helm, nats-server) from
# Go modules at the versions pinned in testenv/versions.env, into a cache
# outside the repository:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/testenv/<versions-hash>/bin
#
# A warm run (stamp present for this versions hash) is a no-op. Each component
# has its own stamp, so an interrupted cold build resumes where it stopped.
# Usage: testenv/build.sh [--print-bin-dir]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
versions_file="$here/versions.env"
# The hash is the first 16 hex digits of sha256(versions.env); the TypeScript
# harness (testenv/harness/paths.ts) computes the same value.
hash="$(sha256sum "$versions_file" | cut -c1-16)"
base="${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/testenv"
dir="$base/$hash"
bin="$dir/bin"
all_binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm nats-server)

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$bin"
  exit 0
fi

complete() {
  [[ -f "$dir/.complete" ]] || return 1
  local b
  for b in "${all_binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
  [[ -f "$dir/share/kwok-stages.yaml" ]]
}

if complete; then
  echo "testenv: up to date ($bin)"
  exit 0
fi

# shellcheck source=versions.env
source "$versions_file"
: "${KUBERNETES_VERSION:?} ${ETCD_VERSION:?} ${KWOK_VERSION:?} ${HELM_VERSION:?} ${NATS_SERVER_VERSION:?}"

mkdir -p "$base" "$bin" "$dir/share" "$dir/logs" "$dir/work"
exec 9>"$base/.build.lock"
if ! flock -n 9; then
  echo "testenv: another testenv build is already running (lock $base/.build.lock); wait for it, then rerun \`make testenv\`" >&2
  exit 1
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "testenv: go not found on PATH (need Go >= 1.26): install Go, then rerun \`make testenv\`" >&2
    exit 1
  fi
fi

# Run outside any Go module (module downloads and consumer modules live in work/).
cd "$dir/work"

# Never download another toolchain; build reproducibly, statically, without VCS stamping.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GO111MODULE=on
unset GOOS GOARCH

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# run_step <component> <command...>: runs with output in logs/<component>.log;
# on failure prints the tail of the log and what to do.
run_step() {
  local component="$1"
  shift
  local logfile="$dir/logs/$component.log"
  if ! "$@" >>"$logfile" 2>&1; then
    echo "---- last lines of $logfile ----" >&2
    tail -n 40 "$logfile" >&2
    echo "testenv: building $component failed (full log: $logfile); fix the cause and rerun \`make testenv\`" >&2
    exit 1
  fi
}

# build_component <component> <function>: skips when its stamp exists.
build_component() {
  local component="$1" fn="$2"
  if [[ -f "$dir/.done-$component" ]]; then
    log "$component: cached"
    return
  fi
  : >"$dir/logs/$component.log"
  local start=$SECONDS
  log "$component: building (log: $dir/logs/$component.log)"
  "$fn"
  touch "$dir/.done-$component"
  log "$component: done in $((SECONDS - start))s"
}

# go_install_to_bin <name> <module/pkg@version> <ldflags>: `go install` honours
# the module's own go.mod/go.sum; output lands in a temp dir, then moves into bin.
go_install_to_bin() {
  local name="$1" pkg="$2" ldflags="$3" tmp
  tmp="$(mktemp -d "$dir/work/install.XXXXXX")"
  run_step "$name" env GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$pkg"
  mv -f "$tmp/$name" "$bin/$name"
  rm -rf "$tmp"
}

build_nats() {
  go_install_to_bin nats-server "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" ""
}

build_kwok() {
  go_install_to_bin kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
}

build_helm() {
  go_install_to_bin helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
}

# kwok's "fast" stages (node initialize + lease heartbeat, pod ready/complete/
# delete) from the same kwok version, as one multi-document --config file.
build_kwok_stages() {
  local src f
  run_step kwok-stages go mod download sigs.k8s.io/kwok@"$KWOK_VERSION"
  src="$(go mod download -json sigs.k8s.io/kwok@"$KWOK_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  {
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"
      cat "$src/kustomize/stage/$f"
    done
  } >"$dir/share/kwok-stages.yaml.tmp"
  mv -f "$dir/share/kwok-stages.yaml.tmp" "$dir/share/kwok-stages.yaml"
}

# etcd's server module uses relative `replace` lines, so `go install @version`
# refuses it; a consumer module pins the sibling modules at the same version.
build_etcd() {
  local mod="$dir/work/etcd"
  rm -rf "$mod" && mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOF
module chatcluster.local/testenv/etcd

go 1.24.0

require (
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
)

tool go.etcd.io/etcd/server/v3
EOF
  run_step etcd bash -c "cd '$mod' && go mod tidy"
  run_step etcd bash -c "cd '$mod' && go build -trimpath -ldflags '-s -w' -o '$mod/etcd' go.etcd.io/etcd/server/v3"
  mv -f "$mod/etcd" "$bin/etcd"
}

# Kubernetes is not meant to be consumed as a module: its go.mod replaces every
# staging module k8s.io/* with ./staging/src/k8s.io/*. The consumer module maps
# each of those to the published v0.<minor>.<patch> and builds the three
# binaries in one `go build` so shared packages compile once.
build_kube() {
  local mod="$dir/work/kube" kmod staging_version major minor info build_date
  rm -rf "$mod" && mkdir -p "$mod"
  staging_version="v0.${KUBERNETES_VERSION#v1.}"
  run_step kube go mod download k8s.io/kubernetes@"$KUBERNETES_VERSION"
  kmod="$(go mod download -json k8s.io/kubernetes@"$KUBERNETES_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  info="$(go mod download -json k8s.io/kubernetes@"$KUBERNETES_VERSION" | sed -n 's/^\s*"Info": "\(.*\)",$/\1/p')"
  build_date="$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "$info")"
  major="$(echo "$KUBERNETES_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
  minor="$(echo "$KUBERNETES_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
  {
    echo "module chatcluster.local/testenv/kube"
    echo
    grep -E '^go ' "$kmod"
    echo
    grep -E '^godebug ' "$kmod" || true
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    sed -nE 's#^\s*(k8s\.io/[a-z0-9.-]+) => \./staging/src/k8s\.io/[a-z0-9.-]+\s*$#\t\1 => \1 '"$staging_version"'#p' "$kmod"
    echo ")"
    echo
    echo "tool ("
    echo "	k8s.io/kubernetes/cmd/kube-apiserver"
    echo "	k8s.io/kubernetes/cmd/kube-controller-manager"
    echo "	k8s.io/kubernetes/cmd/kube-scheduler"
    echo ")"
  } >"$mod/go.mod"
  if ! grep -q "k8s.io/api => k8s.io/api $staging_version" "$mod/go.mod"; then
    echo "testenv: could not derive staging replace lines from $kmod" >&2
    exit 1
  fi
  run_step kube bash -c "cd '$mod' && go mod tidy"
  local x="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X '$pkg.gitVersion=$KUBERNETES_VERSION' -X '$pkg.gitMajor=$major' -X '$pkg.gitMinor=$minor'"
    # The module proxy does not carry the git commit; say so instead of inventing one.
    x+=" -X '$pkg.gitCommit=unknown-go-module-build' -X '$pkg.gitTreeState=clean' -X '$pkg.buildDate=$build_date'"
  done
  mkdir -p "$mod/out"
  run_step kube bash -c "cd '$mod' && go build -trimpath -ldflags \"-s -w$x\" -o '$mod/out/' \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler"
  mv -f "$mod/out/kube-apiserver" "$mod/out/kube-controller-manager" "$mod/out/kube-scheduler" "$bin/"
}

total_start=$SECONDS
log "building into $bin (go: $(go env GOVERSION))"
build_component nats-server build_nats
build_component etcd build_etcd
build_component kube build_kube
build_component kwok build_kwok
build_component kwok-stages build_kwok_stages
build_component helm build_helm

for b in "${all_binaries[@]}"; do
  if [[ ! -x "$bin/$b" ]]; then
    echo "testenv: $b missing from $bin after the build; rerun \`make testenv\`" >&2
    exit 1
  fi
done
"$bin/kube-apiserver" --version
"$bin/nats-server" --version
"$bin/etcd" --version | head -1
cp "$versions_file" "$dir/versions.env"
touch "$dir/.complete"
rm -rf "$dir/work"
log "all components built in $((SECONDS - total_start))s"
