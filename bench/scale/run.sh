#!/usr/bin/env bash
# run.sh [--levels N1,N2,...] [--latency-at N] [--rates R1,R2,...] [--rate-seconds S]
#        [--steady S] [--perf FILE] [--before BIN] [--inflight K] [--etcd-no-fsync]
#        [--rescan-ms MS]
#        - one spok engine following N live SparkApplications, N = each level,
# on a throw-away loopback kube-apiserver + etcd (scripts/k8s) started for this run and
# stopped on exit. Per level: `bench_scale populate` grows the object set to N (raw creates,
# rows in one transaction), then a fresh `bench_scale engine` process adopts them all
# (spok_engine_adopt_all, as after a daemon restart) and reports memory, tick cost, API
# requests at steady state and CPU per status event; at the --latency-at level (default:
# the first) it also patches /status at each rate and reports the latency to the store.
# Builds bench_scale in build/ (RelWithDebInfo, as scripts/build release) unless
# $BENCH_SCALE names a binary. Not part of ctest. The last line starts with "summary:".
# --perf FILE: `perf record -g` of the engine during the last level's status events.
# --before BIN: also run BIN (a bench_scale built from an earlier commit) as the engine of each
#   level, on the same objects and rows, before this one: before/after in one run (with
#   --perf, its profile goes to FILE.before). BIN
#   populates (an older binary cannot open a newer schema) and this build's engine runs on a
#   copy of the data dir (it migrates it).
# Bench conditions (never product defaults; each is named in the output and the summary):
# --inflight K: the patcher's requests on the wire (kube_client max_inflight, default 64).
# --etcd-no-fsync: the throw-away etcd runs with --unsafe-no-fsync (SPOK_K8S_ETCD_ARGS).
# --rescan-ms MS: the engines' adopt rescan period (default 30 s); 1000 puts one rescan in every
#   tick of the steady window, so "tick" is the rescan's cost (with --before: for both).
# Usage: bench/scale/run.sh                        (10k, 50k, 100k; needs scripts/setup k8s)
#        bench/scale/run.sh --levels 1000,5000    (a quick run)
set -euo pipefail
LEVELS=10000,50000,100000
LAT_AT=
RATES=10,100,1000
RATE_S=5
STEADY=10
PERF=
BEFORE=
INFLIGHT=
NOFSYNC=0
RESCAN=
while [ $# -gt 0 ]; do
	case "$1" in
	--levels) LEVELS=$2; shift 2 ;;
	--latency-at) LAT_AT=$2; shift 2 ;;
	--rates) RATES=$2; shift 2 ;;
	--rate-seconds) RATE_S=$2; shift 2 ;;
	--steady) STEADY=$2; shift 2 ;;
	--perf) PERF=$2; shift 2 ;;
	--before) BEFORE=$2; shift 2 ;;
	--inflight) INFLIGHT=$2; shift 2 ;;
	--etcd-no-fsync) NOFSYNC=1; shift ;;
	--rescan-ms) RESCAN=$2; shift 2 ;;
	*) echo "run.sh: unknown argument '$1'; see the comment at the top of $0" >&2; exit 2 ;;
	esac
done
[ -n "$LAT_AT" ] || LAT_AT=${LEVELS%%,*}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BENCH_SCALE:-}" ]; then
	CC=${CC:-clang} cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$ROOT/build" --target bench_scale -j 2 >/dev/null
	BENCH_SCALE=$ROOT/build/bench/scale/bench_scale
fi
[ -x "$BENCH_SCALE" ] || { echo "run.sh: $BENCH_SCALE is not built; check the build output" >&2; exit 1; }
[ -z "$BEFORE" ] || [ -x "$BEFORE" ] || { echo "run.sh: --before $BEFORE is not an executable bench_scale" >&2; exit 1; }
POPULATE=${BEFORE:-$BENCH_SCALE}
conditions=""
[ -n "$INFLIGHT" ] && conditions+="${conditions:+, }patcher inflight $INFLIGHT"
if [ "$NOFSYNC" = 1 ]; then
	export SPOK_K8S_ETCD_ARGS=--unsafe-no-fsync
	conditions+="${conditions:+, }etcd --unsafe-no-fsync"
fi
DIR=$(mktemp -d /tmp/spok-bench-scale.XXXXXX)
cleanup() {
	"$ROOT/scripts/k8s" down "$DIR/k8s" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT
"$ROOT/scripts/k8s" up --fresh "$DIR/k8s"
APISERVER_PID=$(sed -n 's/^SPOK_TEST_APISERVER_PID=//p' "$DIR/k8s/env")
ETCD_PID=$(sed -n 's/^SPOK_TEST_ETCD_PID=//p' "$DIR/k8s/env")
common=(--kubeconfig "$DIR/k8s/kubeconfig" --context admin --dir "$DIR/bench" --namespace spok-scale)
mkdir -p "$DIR/bench"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); levels $LEVELS; latency at $LAT_AT: $RATES/s for ${RATE_S}s each${conditions:+; bench conditions: $conditions}"
summary=""
before=""
lat=""
extra=()
[ -n "$INFLIGHT" ] && extra=(--inflight "$INFLIGHT")
resc=()
[ -n "$RESCAN" ] && resc=(--rescan-ms "$RESCAN") && conditions+="${conditions:+, }rescan every $RESCAN ms"
extra+=("${resc[@]}")
IFS=, read -r -a levels <<<"$LEVELS"
val() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
for n in "${levels[@]}"; do
	echo "== N=$n"
	"$POPULATE" populate "${common[@]}" -n "$n"
	srv_kib=$(awk '/^VmRSS/ {s += $2} END {print s}' "/proc/$APISERVER_PID/status" "/proc/$ETCD_PID/status")
	echo "  API server + etcd VmRSS $((srv_kib / 1024)) MiB"
	dir=("${common[@]}")
	if [ -n "$BEFORE" ]; then
		echo "  -- before: $BEFORE"
		bperf=()
		[ -n "$PERF" ] && [ "$n" = "${levels[-1]}" ] && bperf=(--perf "$PERF.before")
		"$BEFORE" engine "${common[@]}" -n "$n" --steady "$STEADY" "${resc[@]}" \
			--server-pid "$APISERVER_PID" --server-pid "$ETCD_PID" "${bperf[@]}" | tee "$DIR/before.out"
		bline=$(sed -n 's/^result: //p' "$DIR/before.out")
		before+="${before:+, }$n: $(val "$bline" rss_mib) MiB RSS, heap $(val "$bline" heap_b) B/exec, tick $(val "$bline" tick_us) us, $(val "$bline" cpu_event_ms) ms CPU/event"
		rm -rf "$DIR/after"
		cp -a "$DIR/bench" "$DIR/after"
		dir=(--kubeconfig "$DIR/k8s/kubeconfig" --context admin --dir "$DIR/after" --namespace spok-scale)
		echo "  -- after: $BENCH_SCALE"
	fi
	rates=()
	[ "$n" = "$LAT_AT" ] && rates=(--rates "$RATES" --rate-seconds "$RATE_S")
	[ -n "$PERF" ] && [ "$n" = "${levels[-1]}" ] && rates+=(--perf "$PERF")
	"$BENCH_SCALE" engine "${dir[@]}" -n "$n" --steady "$STEADY" "${extra[@]}" \
		--server-pid "$APISERVER_PID" --server-pid "$ETCD_PID" "${rates[@]}" | tee "$DIR/engine.out"
	[ -z "$BEFORE" ] || cp "$DIR/after/state" "$DIR/bench/state" 2>/dev/null || true
	line=$(sed -n 's/^result: //p' "$DIR/engine.out")
	summary+="${summary:+, }$n: $(val "$line" rss_mib) MiB RSS (HWM $(val "$line" hwm_mib), heap $(val "$line" heap_b) B/exec, tick $(val "$line" tick_us) us, $(val "$line" api_per_exec) req/exec, $(val "$line" cpu_event_ms) ms CPU/event)"
	if [ "$n" = "$LAT_AT" ]; then
		for r in $(printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^lat//p'); do
			rate=${r%%=*}; v=${r#*=}; IFS=/ read -r achieved p50 p99 p50a p99a srv <<<"$v"
			lat+="${lat:+, }$rate/s (sent $achieved/s) p50 $p50 ms p99 $p99 ms (from the answer p50 $p50a p99 $p99a; API server + etcd $srv ms CPU/patch)"
		done
	fi
done
echo "summary: RSS per tracked executions: $summary${before:+; before ($BEFORE): $before}; status latency with N=$LAT_AT tracked: $lat${conditions:+; bench conditions: $conditions}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
