#!/usr/bin/env bash
# README command 2 (`npm test`): installs what the tests need, builds, checks lint, the
# dependency arrows and generated code, then runs every test project. Ends with one line
# "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\n== %s\n' "$*" >&2; }

if ! command -v pnpm >/dev/null 2>&1; then
  log "installing pnpm"
  npm install -g pnpm@10 >/dev/null
fi

# Debian packages the checks and tests use; installed when missing and we may.
need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test: missing ${need[*]} and cannot install it here; the checks that need it are skipped" >&2
  fi
fi

log "install"
pnpm install --frozen-lockfile --reporter=silent
log "build"
pnpm run --silent build
log "typecheck scripts"
npx tsc -p scripts
log "lint"
pnpm run --silent lint
log "dependency arrows"
node scripts/check-deps.mjs
if command -v protoc >/dev/null 2>&1; then
  log "generated code matches proto/"
  bash scripts/gen-proto.sh >/dev/null
  git diff --exit-code -- packages/proto/src/gen || { echo "test: packages/proto/src/gen is stale: run pnpm gen-proto and commit" >&2; exit 1; }
fi

log "tests"
results=$(mktemp -d)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$results/vitest.json" || true
rm -rf "$results"
exit $status
