#!/usr/bin/env bash
# Builds the Rivulet container image (default tag rivulet:dev; override with RIVULET_IMAGE)
# from deploy/Dockerfile, on a machine where nothing can be pulled from an image registry:
#
#  1. Builds the workspace (tsc -b) and a production bundle of the `rivulet` command with
#     `pnpm deploy --prod` into deploy/dist/, which is what the Dockerfile copies. The deploy
#     injects the workspace packages (copies, not links) and installs exactly the versions of
#     pnpm-lock.yaml, offline, from the store `pnpm install` filled. Nothing is installed inside the image
#     build, so it needs no registry access.
#  2. If the base image node:20-bookworm-slim is not present locally, it builds a local
#     stand-in and tags it with that name, so deploy/Dockerfile stays the normal one users
#     build anywhere else: a FROM-scratch image holding this machine's `node` binary, the
#     shared libraries `ldd` lists for it and for the bundle's native addons, a minimal
#     /etc (root and node users, `hosts: files dns`) and /tmp. It has no shell, which is why deploy/Dockerfile uses only COPY and
#     exec-form ENTRYPOINT/HEALTHCHECK. It never pulls (no --pull).
#  3. docker build -f deploy/Dockerfile -t "$RIVULET_IMAGE" .
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '== docker-image: %s\n' "$*" >&2; }

image=${RIVULET_IMAGE:-rivulet:dev}
base=node:20-bookworm-slim

if ! docker info >/dev/null 2>&1; then
  echo "docker-image: no Docker engine answers (docker info failed)" >&2
  exit 1
fi

log "building the workspace"
npx tsc -b
log "bundling the rivulet command (pnpm deploy --prod) into deploy/dist/rivulet"
rm -rf deploy/dist
pnpm --config.inject-workspace-packages=true --filter @rivulet/cli deploy --prod --offline deploy/dist/rivulet >/dev/null
# The Dockerfile copies this empty directory to create the data volume's mount point owned
# by the node user (COPY --chown), since the image has no shell to run mkdir/chown.
mkdir -p deploy/dist/data

if docker image inspect "$base" >/dev/null 2>&1; then
  log "base image $base is present"
else
  log "base image $base is missing and cannot be pulled here: building a local stand-in from this machine's node"
  node_bin=$(command -v node)
  node_bin=$(readlink -f "$node_bin")
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" = 20 ] || log "warning: this machine's node is v$(node -p process.versions.node), not 20"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/home/node"
  chmod 1777 "$root/tmp"
  chown 1000:1000 "$root/home/node"
  cp "$node_bin" "$root/usr/local/bin/node"
  # Every library the dynamic loader resolves for node, and the loader itself, at their paths.
  # Native addons of the bundle (classic-level, zstd, snappy…) may need more of glibc (librt…).
  libs=$( { ldd "$node_bin"; find deploy/dist/rivulet -name '*.node' -exec ldd {} \; 2>/dev/null || true; } | grep -o '/[^ ]*' | sort -u)
  for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000::/home/node:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$(node -p process.versions.node)" \
    --change 'CMD ["node"]' \
    --message "local stand-in for $base: $node_bin and its libraries" \
    - "$base" >/dev/null
  log "tagged the stand-in as $base ($(docker image inspect -f '{{.Size}}' "$base" | awk '{printf "%d MB", $1/1e6}'))"
fi

log "docker build -f deploy/Dockerfile -t $image ."
docker build -f deploy/Dockerfile -t "$image" .
log "built $image"
