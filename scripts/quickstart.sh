#!/usr/bin/env bash
# README command 1 (`npm start`): from a machine with only Node 20 and npm to a running
# single-node Rivulet with its data in ./data. Installs pnpm and the dependencies when
# missing, builds, then runs `rivulet start` in the foreground. Extra arguments go to
# `rivulet start` (npm start -- --grpc-port 19093).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  echo "quickstart: installing pnpm" >&2
  npm install -g pnpm@10 >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm run --silent build
# NODE_PROCESS_FLAGS (packages/common/src/node-process-flags.ts): V8 flags every node runs with.
exec node --initial-old-space-size=128 packages/cli/dist/bin.js start "$@"
