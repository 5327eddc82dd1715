#!/usr/bin/env bash
# `npm ci` only when node_modules does not match package-lock.json, so warm runs are instant.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.chatcluster-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)-$(node -p process.versions.node)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: npm ci" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
