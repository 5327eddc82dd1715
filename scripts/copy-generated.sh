#!/usr/bin/env bash
# tsc emits our TypeScript; the generated protobuf code is already JavaScript.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
cp -r gen dist/gen
cp package.json dist/package.json
