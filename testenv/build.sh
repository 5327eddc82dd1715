#!/usr/bin/env bash
# Builds the real components the tests run against from Go modules (and two
# small images) at the versions pinned in testenv/versions.env, into a cache
# outside the repository.
#
# Every component is cached on its own, under a key made of its recipe (the
# shell functions below that build it), the versions it uses, the repository
# files it reads and the keys of the components it depends on:
#
#   <cache>/components/<component>/<key>/{bin,share}/   one component's output
#   <cache>/<set>/{bin,share}/                          symlinks: one set of components
#
# where <cache> is ${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/testenv and <set>
# hashes every component's key. Changing one version or one recipe rebuilds
# that component (and what depends on it) and nothing else. A warm run only
# computes the keys and finds <set>/.complete. A component builds in
# <key>.partial and is renamed when done, so an interrupted build resumes with
# the component it stopped in (Go's build cache keeps what it compiled).
#
# Usage: testenv/build.sh [--print-bin-dir | --print-keys | --check]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
versions_file="$here/versions.env"
base="${XDG_CACHE_HOME:-$HOME/.cache}/chatcluster/testenv"
store="$base/components"

# shellcheck source=versions.env
source "$versions_file"
: "${KUBERNETES_VERSION:?} ${ETCD_VERSION:?} ${KWOK_VERSION:?} ${HELM_VERSION:?} ${NATS_SERVER_VERSION:?}"
: "${COREDNS_VERSION:?}"

# ---- recipes -------------------------------------------------------------------
# Each recipe runs in its component's partial directory ($out) with bin/, share/
# and work/ made, and its build log at $log. dep_dir <component> is the finished
# output of a component it depends on.

# go_install_to_bin <name> <module/pkg@version> <ldflags>: `go install` honours
# the module's own go.mod/go.sum.
go_install_to_bin() {
  local name="$1" pkg="$2" ldflags="$3"
  run_step env GOBIN="$out/bin" go install -trimpath -ldflags "-s -w $ldflags" "$pkg"
}

# module_dir <module@version>: the extracted module in Go's module cache.
module_dir() {
  run_step go mod download "$1"
  go mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p'
}

build_nats() {
  go_install_to_bin nats-server "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" ""
}

build_helm() {
  go_install_to_bin helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
}

# kwok, and its "fast" stages (node initialize + lease heartbeat, pod ready/
# complete/delete) from the same version as one multi-document --config file.
build_kwok() {
  local src f
  go_install_to_bin kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
  src="$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$src/kustomize/stage/$f"
  done >"$out/share/kwok-stages.yaml"
}

# etcd's server module uses relative `replace` lines, so `go install @version`
# refuses it; a consumer module pins the sibling modules at the same version.
build_etcd() {
  local mod="$out/work/etcd"
  mkdir -p "$mod"
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
  run_step bash -c "cd '$mod' && go mod tidy"
  run_step bash -c "cd '$mod' && go build -trimpath -ldflags '-s -w' -o '$out/bin/etcd' go.etcd.io/etcd/server/v3"
}

# Kubernetes is not meant to be consumed as a module: its go.mod replaces every
# staging module k8s.io/* with ./staging/src/k8s.io/*. The consumer module maps
# each of those to the published v0.<minor>.<patch> and builds the control
# plane and the node binaries in one `go build`, so shared packages compile once.
KUBE_COMMANDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"
build_kube() {
  local mod="$out/work/kube" kmod staging_version major minor info build_date cmd
  mkdir -p "$mod"
  staging_version="v0.${KUBERNETES_VERSION#v1.}"
  run_step go mod download "k8s.io/kubernetes@$KUBERNETES_VERSION"
  kmod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  info="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\s*"Info": "\(.*\)",$/\1/p')"
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
    for cmd in $KUBE_COMMANDS; do echo "	k8s.io/kubernetes/cmd/$cmd"; done
    echo ")"
  } >"$mod/go.mod"
  if ! grep -q "k8s.io/api => k8s.io/api $staging_version" "$mod/go.mod"; then
    echo "testenv: could not derive staging replace lines from $kmod" >&2
    exit 1
  fi
  run_step bash -c "cd '$mod' && go mod tidy"
  local x="" pkg pkgs=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X '$pkg.gitVersion=$KUBERNETES_VERSION' -X '$pkg.gitMajor=$major' -X '$pkg.gitMinor=$minor'"
    # The module proxy does not carry the git commit; say so instead of inventing one.
    x+=" -X '$pkg.gitCommit=unknown-go-module-build' -X '$pkg.gitTreeState=clean' -X '$pkg.buildDate=$build_date'"
  done
  for cmd in $KUBE_COMMANDS; do pkgs+=" k8s.io/kubernetes/cmd/$cmd"; done
  run_step bash -c "cd '$mod' && go build -trimpath -ldflags \"-s -w$x\" -o '$out/bin/' $pkgs"
}

# CoreDNS with only the plugins the test node's Corefile uses. Leaving out
# `forward` (and every cloud backend) means it cannot send a query off the
# machine, and skips compiling the cloud SDKs the full build carries.
COREDNS_PLUGINS="bind errors ready kubernetes cache"
build_coredns() {
  local mod="$out/work/coredns" p
  mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOF
module chatcluster.local/testenv/coredns

go 1.25.0

require github.com/coredns/coredns $COREDNS_VERSION
EOF
  {
    echo "package main"
    echo
    echo "import ("
    echo '	"github.com/coredns/coredns/coremain"'
    for p in $COREDNS_PLUGINS; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
    echo ")"
    echo
    echo "func main() { coremain.Run() }"
  } >"$mod/main.go"
  run_step bash -c "cd '$mod' && go mod tidy"
  run_step bash -c "cd '$mod' && go build -trimpath -ldflags '-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION' -o '$out/bin/coredns' ."
}

# oci_image <rootfs> <name> <entrypoint-json> <user>: share/<file>.oci.tar, loadable
# with `ctr images import` (see image/oci-archive.ts).
oci_image() {
  local rootfs="$1" name="$2" entrypoint="$3" user="$4" file="$5"
  run_step node "$repo/image/oci-archive.ts" --rootfs="$rootfs" --name="$name" \
    --entrypoint="$entrypoint" --user="$user" --out="$out/share/$file.oci.tar"
  echo "$name" >"$out/share/$file.image"
}

# The sandbox ("pause") image from Kubernetes' own source, compiled the way its
# build/pause/Makefile does: static, with the C compiler of the machine.
build_pause_image() {
  local src tag rootfs="$out/work/rootfs"
  src="$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")/build/pause"
  tag="$(sed -nE 's/^TAG \?= ([0-9.]+)$/\1/p' "$src/Makefile")"
  [[ -n "$tag" ]] || {
    echo "testenv: no TAG in $src/Makefile" >&2
    exit 1
  }
  mkdir -p "$rootfs"
  run_step gcc -Os -Wall -Werror -static "-DVERSION=v$tag-$KUBERNETES_VERSION" -o "$rootfs/pause" "$src/linux/pause.c"
  oci_image "$rootfs" "chatcluster.invalid/pause:$tag" '["/pause"]' "65535:65535" pause
}

# nats-server as an image, so a cluster on the real node runs NATS as pods.
build_nats_image() {
  local rootfs="$out/work/rootfs"
  mkdir -p "$rootfs/data"
  cp "$(dep_dir nats-server)/bin/nats-server" "$rootfs/nats-server"
  oci_image "$rootfs" "chatcluster.invalid/nats-server:$NATS_SERVER_VERSION" '["/nats-server"]' "65532:65532" nats-server
}

# ---- components ------------------------------------------------------------------
# name | binaries | share files | versions | recipe functions | repository files | dependencies
COMPONENTS=(
  "nats-server|nats-server||NATS_SERVER_VERSION|build_nats go_install_to_bin||"
  "etcd|etcd||ETCD_VERSION|build_etcd||"
  "kube|$KUBE_COMMANDS||KUBERNETES_VERSION KUBE_COMMANDS|build_kube||"
  "kwok|kwok|kwok-stages.yaml|KWOK_VERSION|build_kwok go_install_to_bin module_dir||"
  "helm|helm||HELM_VERSION|build_helm go_install_to_bin||"
  "coredns|coredns||COREDNS_VERSION COREDNS_PLUGINS|build_coredns||"
  "pause-image||pause.oci.tar pause.image|KUBERNETES_VERSION|build_pause_image oci_image module_dir|image/oci-archive.ts|"
  "nats-image||nats-server.oci.tar nats-server.image|NATS_SERVER_VERSION|build_nats_image oci_image|image/oci-archive.ts|nats-server"
)

declare -A KEY=()
# field <record> <n>: the n-th |-separated field (0-based).
field() {
  local IFS='|' parts
  read -r -a parts <<<"$1|"
  echo "${parts[$2]:-}"
}

# The key of every component, in table order (a dependency comes before its users).
compute_keys() {
  local rec name v f d
  for rec in "${COMPONENTS[@]}"; do
    name="$(field "$rec" 0)"
    KEY[$name]="$(
      {
        echo "component $name"
        for v in $(field "$rec" 3); do echo "$v=${!v}"; done
        # shellcheck disable=SC2046
        declare -f $(field "$rec" 4)
        for f in $(field "$rec" 5); do
          echo "file $f"
          cat "$repo/$f"
        done
        for d in $(field "$rec" 6); do echo "dep $d=${KEY[$d]}"; done
      } | sha256sum | cut -c1-16
    )"
  done
}
compute_keys

set_hash="$(for rec in "${COMPONENTS[@]}"; do
  name="$(field "$rec" 0)"
  echo "$name=${KEY[$name]}"
done | sha256sum | cut -c1-16)"
set_dir="$base/$set_hash"
bin="$set_dir/bin"

case "${1:-}" in
--print-bin-dir)
  echo "$bin"
  exit 0
  ;;
--print-keys)
  for rec in "${COMPONENTS[@]}"; do
    name="$(field "$rec" 0)"
    echo "$name ${KEY[$name]}"
  done
  exit 0
  ;;
esac

component_dir() { echo "$store/$1/${KEY[$1]}"; }
dep_dir() { component_dir "$1"; }

set_complete() {
  [[ -f "$set_dir/.complete" ]] || return 1
  local rec b s
  for rec in "${COMPONENTS[@]}"; do
    for b in $(field "$rec" 1); do [[ -x "$bin/$b" ]] || return 1; done
    for s in $(field "$rec" 2); do [[ -f "$set_dir/share/$s" ]] || return 1; done
  done
}

if set_complete; then
  echo "testenv: up to date ($bin)"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "testenv: not built ($bin): run \`make testenv\`" >&2
  exit 1
fi

mkdir -p "$base" "$store"
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
for tool in gcc node; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "testenv: $tool not found on PATH: run \`make system-packages\` (gcc) or \`make setup\` (node), then rerun \`make testenv\`" >&2
    exit 1
  fi
done

# Never download another toolchain; build reproducibly, statically, without VCS stamping.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GO111MODULE=on
unset GOOS GOARCH

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# run_step <command...>: output appended to the component's log; on failure
# prints the tail of the log and what to do.
run_step() {
  if ! "$@" >>"$log" 2>&1; then
    echo "---- last lines of $log ----" >&2
    tail -n 40 "$log" >&2
    echo "testenv: building $component failed (full log: $log); fix the cause and rerun \`make testenv\`" >&2
    exit 1
  fi
}

# build_component <record>: skips a component whose output exists; otherwise
# builds it in <key>.partial (from scratch) and renames it.
build_component() {
  local rec="$1" dir start b s fn
  component="$(field "$rec" 0)"
  dir="$(component_dir "$component")"
  if [[ -f "$dir/.done" ]]; then
    log "$component: cached (${KEY[$component]})"
    return
  fi
  out="$dir.partial"
  rm -rf "$out" "$dir"
  mkdir -p "$out/bin" "$out/share" "$out/work"
  log="$out/build.log"
  : >"$log"
  start=$SECONDS
  log "$component: building (log: $log)"
  # Run outside any Go module (consumer modules live in work/).
  fn="$(field "$rec" 4)"
  (cd "$out/work" && "${fn%% *}")
  for b in $(field "$rec" 1); do
    [[ -x "$out/bin/$b" ]] || {
      echo "testenv: $component did not produce bin/$b (log: $log)" >&2
      exit 1
    }
  done
  for s in $(field "$rec" 2); do
    [[ -f "$out/share/$s" ]] || {
      echo "testenv: $component did not produce share/$s (log: $log)" >&2
      exit 1
    }
  done
  rm -rf "$out/work"
  echo "${KEY[$component]}" >"$out/.done"
  mv "$out" "$dir"
  log "$component: done in $((SECONDS - start))s"
}

total_start=$SECONDS
log "building into $store (go: $(go env GOVERSION))"
for rec in "${COMPONENTS[@]}"; do build_component "$rec"; done

# The set: one bin/ and share/ of symlinks into the components.
rm -rf "$set_dir.partial"
mkdir -p "$set_dir.partial/bin" "$set_dir.partial/share"
for rec in "${COMPONENTS[@]}"; do
  name="$(field "$rec" 0)"
  for b in $(field "$rec" 1); do ln -s "$(component_dir "$name")/bin/$b" "$set_dir.partial/bin/$b"; done
  for s in $(field "$rec" 2); do ln -s "$(component_dir "$name")/share/$s" "$set_dir.partial/share/$s"; done
  echo "$name ${KEY[$name]}" >>"$set_dir.partial/components"
done
cp "$versions_file" "$set_dir.partial/versions.env"
touch "$set_dir.partial/.complete"
rm -rf "$set_dir"
mv "$set_dir.partial" "$set_dir"
"$bin/kube-apiserver" --version
"$bin/nats-server" --version
"$bin/etcd" --version | head -1
log "all components ready in $((SECONDS - total_start))s ($set_dir)"
