#!/usr/bin/env bash
# bench.sh [K] - the same Spark Pi job run K times (default 5) via `spok run` and K times via
# bare spark-submit (pyspark's, same Python, same arguments), interleaved so machine noise
# hits both alike (the order alternates each round: spok first, then bare first, ...); prints
# each pair's wall times and ratio (and CPU times), the load average before and after, the
# median CPU times, and on its last line the median wall times and the ratio of the medians
# spok/bare. Not part of ctest.
# Usage: bench/local/bench.sh 5   (needs build/spok or $SPOK, and scripts/setup python)
#        BARE_EVENTLOG=1 bench/local/bench.sh 5   (bare writes the event log too)
set -euo pipefail
K=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SPOK=${SPOK:-$ROOT/build/spok}
VENV=${SPOK_VENV:-$ROOT/.cache/venv}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export SPOK_DATA_DIR=$TMP/data
export PYSPARK_PYTHON=$VENV/bin/python PYSPARK_DRIVER_PYTHON=$VENV/bin/python
ARGS=$(sed -n 's/^args: \[\(.*\)\]/\1/p' "$ROOT/examples/pi/pi.yaml" | tr -d '",')

now() { date +%s%N; }
run_spok() {
	"$SPOK" run "$ROOT/examples/pi/pi.yaml" -q >/dev/null 2>"$TMP/spok.err" || { cat "$TMP/spok.err" >&2; exit 1; }
}
# BARE_EVENTLOG=1: bare spark-submit writes the event log too, as spok's runs do (Spark's own
# cost of it then drops out of the ratio; the issue's goal is without it)
BARE_CONF=(--conf spark.driver.memory=1g)
if [ "${BARE_EVENTLOG:-0}" = 1 ]; then
	mkdir -p "$TMP/bare-events"
	BARE_CONF+=(--conf spark.eventLog.enabled=true --conf "spark.eventLog.dir=file://$TMP/bare-events")
	echo "bare spark-submit writes the event log too (BARE_EVENTLOG=1)"
fi
run_bare() {
	# shellcheck disable=SC2086 # ARGS is a list of plain numbers
	"$VENV/bin/spark-submit" --master 'local[*]' "${BARE_CONF[@]}" \
		"$ROOT/examples/pi/pi.py" $ARGS >/dev/null 2>"$TMP/bare.err" || { cat "$TMP/bare.err" >&2; exit 1; }
}
# measure CMD: runs CMD (in a subshell of its own), prints "WALL_MS CPU_MS": wall time and
# the CPU time (user + sys) of everything it ran, from bash's `times` (less noisy than wall
# on a shared machine: it tells whether one side does more work)
measure() {
	local t0 t1 cpu
	t0=$(now)
	"$1"
	t1=$(now)
	times >"$TMP/times" # a builtin without a fork: a pipe's subshell would count nothing
	cpu=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }' "$TMP/times")
	echo "$(((t1 - t0) / 1000000)) $cpu"
}
spok_ms=()
bare_ms=()
spok_cpu=()
bare_cpu=()
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$K"); do
	if [ $((i % 2)) = 1 ]; then
		s=$(measure run_spok)
		b=$(measure run_bare)
	else
		b=$(measure run_bare)
		s=$(measure run_spok)
	fi
	spok_ms+=("${s% *}")
	bare_ms+=("${b% *}")
	spok_cpu+=("${s#* }")
	bare_cpu+=("${b#* }")
	awk -v i="$i" -v s="${s% *}" -v b="${b% *}" -v sc="${s#* }" -v bc="${b#* }" \
		'BEGIN { printf "run %d: spok %6d ms   spark-submit %6d ms   ratio %.3f   (cpu %d / %d ms)\n", i, s, b, s / b, sc, bc }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms=$(median "${spok_ms[@]}")
mb=$(median "${bare_ms[@]}")
awk -v s="$(median "${spok_cpu[@]}")" -v b="$(median "${bare_cpu[@]}")" \
	'BEGIN { printf "median cpu: spok %d ms, spark-submit %d ms, ratio %.3f\n", s, b, s / b }'
awk -v s="$ms" -v b="$mb" 'BEGIN { printf "median: spok %d ms, spark-submit %d ms, ratio spok/bare %.3f\n", s, b, s / b }'
