#!/usr/bin/env bash
# run.sh [N] [bench_serve flags...] - a burst of N submissions (default 1000, 64 at once) to a
# real `spok serve` whose one cluster is a throw-away loopback kube-apiserver + etcd
# (scripts/k8s, started for this run and stopped on exit), against N raw creates of the same
# SparkApplication on that API server (bench_serve.c says what is timed). Builds spok and
# bench_serve in the release build dir build/ (RelWithDebInfo, as scripts/build release) unless
# $SPOK and $BENCH_SERVE name binaries. One untimed warm-up burst comes first. Not part of
# ctest. The last line starts with "summary:".
# Usage: bench/serve/run.sh 1000                      (needs scripts/setup k8s)
#        bench/serve/run.sh 1000 -c 16 --no-keys
#        BEFORE=/tmp/old/spok PAIRS=2 bench/serve/run.sh 1000
#          before/after on the same API server: the old daemon and this one alternate (the
#          old first in odd pairs), each on a fresh data dir;
#          every run prints its summary, and a last summary line gives each binary's median
#          answered/raw ratio.
set -euo pipefail
N=${1:-1000}
shift || true
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${SPOK:-}" ] || [ -z "${BENCH_SERVE:-}" ]; then
	CC=${CC:-clang} cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DSPOK_TEST_HOOKS=OFF >/dev/null
	cmake --build "$ROOT/build" --target spok bench_serve -j 2 >/dev/null
	SPOK=${SPOK:-$ROOT/build/src/cli/spok}
	BENCH_SERVE=${BENCH_SERVE:-$ROOT/build/bench/serve/bench_serve}
fi
for b in "$SPOK" "$BENCH_SERVE" ${BEFORE:+"$BEFORE"}; do
	[ -x "$b" ] || { echo "run.sh: $b is not an executable; check the build output" >&2; exit 1; }
done
DIR=$(mktemp -d /tmp/spok-bench-serve.XXXXXX)
DPID=
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	"$ROOT/scripts/k8s" down "$DIR/k8s" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT
"$ROOT/scripts/k8s" up --fresh "$DIR/k8s"
env_of() { sed -n "s/^$1=//p" "$DIR/k8s/env"; }
TOKEN=bench-$RANDOM$RANDOM$RANDOM
HASH=$(printf '%s' "$TOKEN" | sha256sum)
HASH=${HASH%% *}
printf -- '- {name: bench, token-sha256: %s, admin: true}\n' "$HASH" >"$DIR/tokens.yaml"
# One cluster, every project routed to it; the API server's own limits, not spok's, bound it.
cat >"$DIR/config.yaml" <<EOF
spok:
  default-image: spark:4.0.5
  spark-version: 4.0.5
  clusters:
  - {name: bench, kubeconfig: '$DIR/k8s/kubeconfig', context: admin, qps: 1000, burst: 1000}
  routes:
  - {project: '*', domain: '*', cluster: bench}
  server: {listen: '127.0.0.1:0', tokens-file: tokens.yaml, max-connections: 512,
    max-connections-per-ip: 256}
EOF
RUN=0
one() { # one SPOK LABEL [bench_serve flags...]: a fresh daemon, one burst, the daemon stopped
	local bin=$1 label=$2 port line
	shift 2
	RUN=$((RUN + 1))
	echo "== $label: $bin"
	mkdir -p "$DIR/data$RUN"
	"$bin" serve --config "$DIR/config.yaml" --data-dir "$DIR/data$RUN" >"$DIR/out$RUN" \
		2>"$DIR/daemon$RUN.log" &
	DPID=$!
	port=
	for _ in $(seq 1 300); do
		line=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$DIR/out$RUN")
		[ -n "$line" ] && { port=$line; break; }
		sleep 0.1
	done
	[ -n "$port" ] || { echo "run.sh: the daemon did not start:" >&2; cat "$DIR/daemon$RUN.log" >&2; exit 1; }
	"$BENCH_SERVE" --url "http://127.0.0.1:$port" --token "$TOKEN" \
		--apiserver "$(env_of SPOK_TEST_APISERVER)" --cacert "$(env_of SPOK_TEST_CA)" \
		--cert "$(env_of SPOK_TEST_ADMIN_CERT)" --key "$(env_of SPOK_TEST_ADMIN_KEY)" \
		--ns "bench-$RUN" --daemon-pid "$DPID" -n "$N" "$@" | tee "$DIR/bench$RUN.out"
	kill "$DPID"
	wait "$DPID" || true
	DPID=
}
# median of the answered/raw ratios in the summary lines of the given runs' outputs
median() {
	sed -n 's/^summary:.*answered\/raw \([0-9.]*\),.*/\1/p' "$@" | sort -n |
		awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "-"}'
}
# The first burst on a fresh API server runs differently (its first creates of the CRD, the
# namespaces' first watches; its creates lag and the daemon answers several times faster):
# one untimed burst first, so no measured run is that one.
one "$SPOK" "warm-up (not counted)" "$@" >/dev/null
if [ -z "${BEFORE:-}" ]; then
	one "$SPOK" this "$@"
	exit 0
fi
BF=() AF=()
for ((p = 1; p <= ${PAIRS:-2}; p++)); do
	if ((p % 2)); then
		one "$BEFORE" "before (pair $p)" "$@"; BF+=("$DIR/bench$RUN.out")
		one "$SPOK" "after (pair $p)" "$@"; AF+=("$DIR/bench$RUN.out")
	else
		one "$SPOK" "after (pair $p)" "$@"; AF+=("$DIR/bench$RUN.out")
		one "$BEFORE" "before (pair $p)" "$@"; BF+=("$DIR/bench$RUN.out")
	fi
done
echo "summary: median answered/raw: before $(median "${BF[@]}"), after $(median "${AF[@]}") ($(cut -d' ' -f1-3 /proc/loadavg) load at the end)"
