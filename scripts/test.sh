#!/usr/bin/env bash
# README command 2 (`npm test`): installs what the tests need, builds, checks lint, the
# dependency arrows and generated code, builds the container image when a Docker engine runs
# (starting dockerd when it may), then runs every test project. Ends with one line
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
# The network-namespace fault scenarios (test/fault) need ip and iptables; they skip without them.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
# The container tests (test/container) need a Docker engine and docker-compose.
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test: missing ${need[*]} and cannot install it here; the checks that need it are skipped" >&2
  fi
fi

# A Docker engine for the container tests: use one that answers, or start dockerd (root only)
# in the background, leaving the host's firewall alone, and stop it by its PID on exit.
# Without an engine the container tests skip and say why.
dockerd_pid=""
dockerd_dir=""
stop_dockerd() {
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    log "stopping the dockerd this script started (pid $dockerd_pid)"
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  [ -n "$dockerd_dir" ] && rm -rf "$dockerd_dir"
  return 0
}
trap stop_dockerd EXIT
docker_ready=false
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker_ready=true
elif [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1; then
  log "starting dockerd"
  dockerd_dir=$(mktemp -d)
  dockerd --iptables=false --ip-forward=false >"$dockerd_dir/dockerd.log" 2>&1 &
  dockerd_pid=$!
fi

log "install"
pnpm install --frozen-lockfile --reporter=silent
# classic-level is built from source (patches/classic-level@3.0.0.patch) so that LevelDB uses the
# CPU's CRC-32C instruction; its install falls back to the prebuilt binary when that fails.
node -e "const d = require('path').dirname(require.resolve('classic-level/package.json'));
  process.exit(require('fs').existsSync(d + '/build/Release/classic_level.node') ? 0 : 1)" ||
  { echo "test: classic-level was not built from source; run pnpm rebuild classic-level to see why" >&2; exit 1; }
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

if [ -n "$dockerd_pid" ]; then
  for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then docker_ready=true; break; fi
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$docker_ready" != true ]; then
    echo "test: dockerd did not come up; its log ends with:" >&2
    tail -n 20 "$dockerd_dir/dockerd.log" >&2 || true
  fi
fi
if [ "$docker_ready" = true ]; then
  log "container image (scripts/docker-image.sh)"
  started=$SECONDS
  image_log=$(mktemp)
  if ! bash scripts/docker-image.sh >"$image_log" 2>&1; then
    tail -n 40 "$image_log" >&2
    rm -f "$image_log"
    echo "test: scripts/docker-image.sh failed" >&2
    exit 1
  fi
  rm -f "$image_log"
  echo "image ${RIVULET_IMAGE:-rivulet:dev} built in $((SECONDS - started)) s" >&2
else
  echo "test: no Docker engine: the container tests (test/container) skip" >&2
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
