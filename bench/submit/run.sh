#!/usr/bin/env bash
# run.sh [N] [bench_submit flags...] - N jobs through spok's engine vs raw creates of the same
# SparkApplications, on a throw-away loopback kube-apiserver + etcd (scripts/k8s) started for
# this run and stopped on exit. Builds bench_submit in the release build dir build/ (configured
# as scripts/build release does, but only this target, so a module mid-change elsewhere does
# not block the bench) unless $BENCH_SUBMIT names a binary. Not part of ctest.
# Usage: bench/submit/run.sh 100            (needs scripts/setup k8s)
#        bench/submit/run.sh 200 --rounds 5
#        BEFORE=/tmp/old/bench_submit PAIRS=3 bench/submit/run.sh 1000 --rounds 1
#          side by side on the same server: the old binary and this one alternate (the old
#          first in odd pairs), PAIRS times each; every run prints its own summary lines.
set -euo pipefail
N=${1:-100}
shift || true
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BENCH_SUBMIT:-}" ]; then
	CC=${CC:-clang} cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$ROOT/build" --target bench_submit -j 2 >/dev/null
	BENCH_SUBMIT=$ROOT/build/bench/submit/bench_submit
fi
[ -x "$BENCH_SUBMIT" ] || { echo "run.sh: $BENCH_SUBMIT is not built; check the build output" >&2; exit 1; }
DIR=$(mktemp -d /tmp/spok-bench-k8s.XXXXXX)
cleanup() {
	"$ROOT/scripts/k8s" down "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT
"$ROOT/scripts/k8s" up --fresh "$DIR"
# The control plane's pids, so the bench also reports their CPU time per job.
APISERVER_PID=$(sed -n 's/^SPOK_TEST_APISERVER_PID=//p' "$DIR/env")
ETCD_PID=$(sed -n 's/^SPOK_TEST_ETCD_PID=//p' "$DIR/env")
one() { # one BINARY LABEL [flags...]
	local bin=$1 label=$2
	shift 2
	echo "== $label: $bin"
	"$bin" --kubeconfig "$DIR/kubeconfig" --context admin -n "$N" \
		--server-pid "$APISERVER_PID" --server-pid "$ETCD_PID" "$@"
}
if [ -z "${BEFORE:-}" ]; then
	one "$BENCH_SUBMIT" this "$@"
	exit 0
fi
[ -x "$BEFORE" ] || { echo "run.sh: BEFORE=$BEFORE is not an executable" >&2; exit 1; }
for ((p = 1; p <= ${PAIRS:-3}; p++)); do
	if ((p % 2)); then
		one "$BEFORE" "before (pair $p)" "$@"
		one "$BENCH_SUBMIT" "after (pair $p)" "$@"
	else
		one "$BENCH_SUBMIT" "after (pair $p)" "$@"
		one "$BEFORE" "before (pair $p)" "$@"
	fi
done
