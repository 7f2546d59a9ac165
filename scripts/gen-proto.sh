#!/usr/bin/env bash
# Generates packages/proto/src/gen from proto/**/*.proto with protoc and ts-proto (which
# keeps protobufjs as the runtime). The output is committed; CI regenerates it and fails
# when it differs, so the .proto files stay the source of truth.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "gen-proto: protoc is missing (apt-get install protobuf-compiler)" >&2; exit 1; }
out=packages/proto/src/gen
rm -rf "$out" && mkdir -p "$out"
mapfile -t files < <(cd proto && find . -name '*.proto' | sed 's#^\./##' | sort)
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true,forceLong=number,importSuffix=.js,useOptionals=none,oneof=unions,useExactTypes=false,outputJsonMethods=false,outputPartialMethods=true,exportCommonSymbols=false,useDate=false \
  -I proto "${files[@]}"
# ts-proto wraps every serialized message in Buffer.from(...), a full copy; under Node,
# protobufjs already returns a Buffer, and for fetch responses that copy of every record
# byte cost a sixth of the broker's CPU. Drop it.
find "$out" -name '*.ts' -print0 | xargs -0 sed -i -E 's/Buffer\.from\(([A-Za-z0-9_]+)\.encode\(value\)\.finish\(\)\)/(\1.encode(value).finish() as Buffer)/g'
if grep -rq 'Buffer.from(.*encode(value).finish())' "$out"; then echo "gen-proto: a Buffer.from copy survived" >&2; exit 1; fi
echo "gen-proto: wrote $(find "$out" -name '*.ts' | wc -l) files to $out"
