#!/usr/bin/env bash
# The chart renders the CRDs from its copy in files/crds/ (templates/crds.yaml);
# fails when that copy differs from crds/ (fix: make chart-crds).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! diff -r crds charts/chatcluster/files/crds >/dev/null; then
  echo "charts/chatcluster/files/crds differs from crds/: run \`make chart-crds\` and commit" >&2
  diff -r crds charts/chatcluster/files/crds | head -20 >&2
  exit 1
fi
