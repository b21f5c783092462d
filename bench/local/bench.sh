#!/usr/bin/env bash
# bench.sh [K] - the same Spark Pi job run K times via `spok run` and K times via bare
# spark-submit (pyspark's, same Python, same arguments), interleaved so machine noise hits
# both alike; prints each wall time and the median ratio spok/bare. Not part of ctest.
# Usage: bench/local/bench.sh 5   (needs build/spok or $SPOK, and scripts/setup python)
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
spok_ms=()
bare_ms=()
for i in $(seq 1 "$K"); do
	t0=$(now)
	"$SPOK" run "$ROOT/examples/pi/pi.yaml" -q >/dev/null 2>"$TMP/spok.err" || { cat "$TMP/spok.err" >&2; exit 1; }
	t1=$(now)
	# shellcheck disable=SC2086 # ARGS is a list of plain numbers
	"$VENV/bin/spark-submit" --master 'local[*]' --conf spark.driver.memory=1g \
		"$ROOT/examples/pi/pi.py" $ARGS >/dev/null 2>"$TMP/bare.err" || { cat "$TMP/bare.err" >&2; exit 1; }
	t2=$(now)
	spok_ms+=($(((t1 - t0) / 1000000)))
	bare_ms+=($(((t2 - t1) / 1000000)))
	printf 'run %d: spok %6d ms   spark-submit %6d ms\n' "$i" "${spok_ms[-1]}" "${bare_ms[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms=$(median "${spok_ms[@]}")
mb=$(median "${bare_ms[@]}")
awk -v s="$ms" -v b="$mb" 'BEGIN { printf "median: spok %d ms, spark-submit %d ms, ratio spok/bare %.3f\n", s, b, s / b }'
