#!/usr/bin/env bash
# tests/node/down.sh DIR - fixture cleanup: `scripts/k8s down` fails if the node left any
# process, mount, cgroup, veth, bridge or iptables chain behind.
set -uo pipefail
DIR=${1:?usage: down.sh DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -f "$DIR/skipped" ]; then cat "$DIR/skipped"; exit 77; fi
exec "$ROOT/scripts/k8s" down "$DIR"
