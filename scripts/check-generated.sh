#!/usr/bin/env bash
# Fails when `make proto` would change the committed generated code.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npx buf generate --output "$tmp"
if ! diff -r "$tmp/gen" gen >"$tmp/diff.txt" 2>&1; then
  echo "generated code is stale: run \`make proto\` and commit gen/" >&2
  head -40 "$tmp/diff.txt" >&2
  exit 1
fi
