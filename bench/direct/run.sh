#!/usr/bin/env bash
# run.sh [DIRECT_N [OPERATOR_N]] [bench_direct flags...] - direct submission vs the real
# Kubeflow spark-operator (issue 12) on one throw-away API server: `scripts/k8s up --fresh
# --with-operator` (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK
# completing pods, the operator running pyspark's spark-submit), started for this run and
# stopped on exit. bench_direct submits through spok's engine in each mode (direct first,
# then operator; a fresh engine, store and client per mode): a cold first job, one job alone
# (time to driver Running: KWOK's stage, no container starts), then N at once; rate = N /
# (first submit -> last driver pod seen). The operator's CPU is read from a cpuacct cgroup
# it is moved into (every process it starts, spark-submit's JVMs included; v1 or v2, needs
# root), else from /proc/<pid>/stat with reaped children. Different N per mode is fine: the
# rates are per second. Builds bench_direct in build/ (RelWithDebInfo, as scripts/build
# release) unless $BENCH_DIRECT names a binary. Not part of ctest; nothing asserts a timing.
# The last line starts with "summary:".
# Usage: bench/direct/run.sh                (200 direct, 20 operator; needs scripts/setup k8s)
#        bench/direct/run.sh 50 5           (a quick run)
set -euo pipefail
DIRECT_N=200
OPERATOR_N=20
if [ $# -gt 0 ] && [[ $1 != -* ]]; then DIRECT_N=$1; shift; fi
if [ $# -gt 0 ] && [[ $1 != -* ]]; then OPERATOR_N=$1; shift; fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BENCH_DIRECT:-}" ]; then
	CC=${CC:-clang} cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$ROOT/build" --target bench_direct -j 2 >/dev/null
	BENCH_DIRECT=$ROOT/build/bench/direct/bench_direct
fi
[ -x "$BENCH_DIRECT" ] || { echo "run.sh: $BENCH_DIRECT is not built; check the build output" >&2; exit 1; }
DIR=$(mktemp -d /tmp/spok-bench-direct.XXXXXX)
CG=
cleanup() {
	"$ROOT/scripts/k8s" down "$DIR/k8s" >/dev/null 2>&1 || true
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		# Anything still in it goes back to the parent cgroup, so that it can be removed.
		while read -r pid; do
			echo "$pid" >"$(dirname "$CG")/cgroup.procs" 2>/dev/null || true
		done <"$CG/cgroup.procs"
		rmdir "$CG" 2>/dev/null || echo "run.sh: could not remove cgroup $CG" >&2
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
started=$SECONDS
"$ROOT/scripts/k8s" up --fresh --with-operator "$DIR/k8s"
env_of() { sed -n "s/^$1=//p" "$DIR/k8s/env"; }
OP_PID=$(env_of SPOK_TEST_OPERATOR_PID)
op_cpu=(--operator-pid "$OP_PID")
# A cgroup of the operator's own: every process it starts (spark-submit's JVMs and what they
# start) is counted, exited or not, reaped by the operator or not. --operator-pid stays, so
# the bench also prints the /proc reading beside the cgroup's.
for base in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/unified /sys/fs/cgroup; do
	{ [ -f "$base/cpuacct.usage" ] || [ -f "$base/cgroup.controllers" ]; } || continue
	if mkdir "$base/spok-bench-operator-$$" 2>/dev/null; then
		if echo "$OP_PID" >"$base/spok-bench-operator-$$/cgroup.procs" 2>/dev/null; then
			CG=$base/spok-bench-operator-$$
			op_cpu+=(--operator-cgroup "$CG")
			break
		fi
		rmdir "$base/spok-bench-operator-$$"
	fi
done
[ -n "$CG" ] || echo "run.sh: no cgroup for the operator (not root, or no cgroup fs): its CPU comes from /proc/$OP_PID/stat and misses children it did not reap" >&2
echo "k8s up in $((SECONDS - started)) s; operator pid $OP_PID, controller threads as scripts/k8s starts it; N direct=$DIRECT_N operator=$OPERATOR_N"
"$BENCH_DIRECT" run --kubeconfig "$DIR/k8s/kubeconfig" --context admin \
	--direct-n "$DIRECT_N" --operator-n "$OPERATOR_N" "${op_cpu[@]}" \
	--operator-namespace "$(env_of SPOK_TEST_OPERATOR_NAMESPACE)" \
	--server-pid "$(env_of SPOK_TEST_APISERVER_PID)" --server-pid "$(env_of SPOK_TEST_ETCD_PID)" \
	"$@" | tee "$DIR/out" | grep --line-buffered -v '^summary:'
echo "run.sh: whole run $((SECONDS - started)) s (k8s up included)"
grep '^summary:' "$DIR/out"
