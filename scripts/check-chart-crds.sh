#!/usr/bin/env bash
# The chart ships the CRDs from crds/; fails when its copy differs (fix: make chart-crds).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! diff -r crds charts/chatcluster/crds >/dev/null; then
  echo "charts/chatcluster/crds differs from crds/: run \`make chart-crds\` and commit" >&2
  diff -r crds charts/chatcluster/crds | head -20 >&2
  exit 1
fi
