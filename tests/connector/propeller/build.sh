#!/usr/bin/env bash
# build.sh OUT_DIR - builds the real flytepropeller and kubectl-flyte (v1.16.8, from the Go
# module proxy) into OUT_DIR/bin. go.sum is resolved in OUT_DIR, never in the source tree.
#
# It builds inside the conformance reference's module (tests/conformance/ref/go.mod: the same
# flyteplugins/flytepropeller v1.16.8, the same replaces) with the same flags as
# scripts/setup-conformance (CGO_ENABLED=0, -trimpath). Go's build cache then already holds
# nearly every package both need, so this costs about 2 CPU-minutes after `scripts/setup`
# instead of compiling flytepropeller's whole dependency graph again (about 25 minutes on
# 2 cores).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ref="$here/../../conformance/ref"
out=$1
mkdir -p "$out/bin"
if [ -x "$out/bin/controller" ] && [ -x "$out/bin/kubectl-flyte" ] &&
  [ "$out/bin/controller" -nt "$ref/go.mod" ] && [ "$out/bin/controller" -nt "$here/build.sh" ]; then
  exit 0
fi
cp "$ref/go.mod" "$ref/go.sum" "$out/"
# A package main of the module: go build wants one to resolve the module's requirements.
printf 'package main\n\nimport _ "github.com/flyteorg/flyte/flytepropeller/cmd/controller/cmd"\n\nfunc main() {}\n' \
  >"$out/main.go"
cd "$out"
CGO_ENABLED=0 GOFLAGS=-mod=mod nice go build -p "${SPOK_GO_P:-2}" -trimpath -o bin/ \
  github.com/flyteorg/flyte/flytepropeller/cmd/controller \
  github.com/flyteorg/flyte/flytepropeller/cmd/kubectl-flyte
