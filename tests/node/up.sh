#!/usr/bin/env bash
# tests/node/up.sh DIR - fixture k8s-node: start the real node (or skip, with the reason, on a
# machine that cannot run one; DIR/skipped then tells the other node tests).
set -uo pipefail
DIR=${1:?usage: up.sh DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$DIR"
rm -f "$DIR/skipped"
reason=$("$ROOT/scripts/k8s" node-check)
rc=$?
if [ $rc -eq 77 ]; then
  echo "$reason" | tee "$DIR/skipped"
  exit 77
fi
[ $rc -eq 0 ] || { echo "$reason"; exit $rc; }
exec "$ROOT/scripts/k8s" up --fresh --node --with-operator "$DIR"
