#!/usr/bin/env bash
# build.sh OUT_DIR - builds the real flytepropeller and kubectl-flyte (v1.16.8, from the Go
# module proxy) into OUT_DIR/bin. go.sum is resolved in OUT_DIR, never in the source tree.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out/bin"
cp "$here/go.mod" "$out/go.mod"
cd "$out"
if [ -x bin/controller ] && [ -x bin/kubectl-flyte ] && [ bin/controller -nt "$here/go.mod" ]; then
  exit 0
fi
GOFLAGS=-mod=mod nice go build -o bin/ \
  github.com/flyteorg/flyte/flytepropeller/cmd/controller \
  github.com/flyteorg/flyte/flytepropeller/cmd/kubectl-flyte
