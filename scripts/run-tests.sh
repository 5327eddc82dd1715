#!/usr/bin/env bash
# Runs `node --test` with the spec reporter on stdout and fails when a test or
# suite was skipped: under `make test` every suite runs against its real
# components, so a skip means something is missing.
# Usage: scripts/run-tests.sh <concurrency> <timeout-ms> <glob>...
set -uo pipefail
concurrency="$1" timeout="$2"
shift 2
tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT
rc=0
node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" --test-concurrency="$concurrency" \
  --test-timeout="$timeout" "$@" || rc=$?
skipped="$(grep -E '^ *(not )?ok [0-9]+ - .* # SKIP' "$tap" || true)"
if [ "$rc" -eq 0 ] && [ -n "$skipped" ]; then
  echo "make test: tests or suites were skipped; under make test every suite runs against its real components:" >&2
  echo "$skipped" >&2
  exit 1
fi
exit "$rc"
