#!/usr/bin/env bash
# run.sh [K] - short jobs cold vs warm on this machine: the same job run K times by `spok run`
# (spark-submit, a new JVM and SparkContext each time) and K times by `spok run --warm` (a
# Spark Connect client of the pool's warm session), interleaved (cold, warm, cold, ...) so
# machine noise hits both alike. Two jobs, both DataFrame API (examples/warm): a count over
# 10^6 generated rows and Pi with 2 partitions. Prints each wall time, the server's start and
# the first warm run after it, the memory the idle pool holds (RSS of the server's process
# group, of its supervisor and of its resident Python client), and a last line `summary: ...` with the medians and the
# cold/warm ratios. Not part of ctest.
# Usage: bench/warm/run.sh 5   (needs build/spok or $SPOK, scripts/setup python)
#
# --node: the same on the real single-node cluster (tests/node; the node is machine-wide, so
# run it as `flock /tmp/spok-node.lock bench/warm/run.sh --node 3`; it brings its own node up
# and down). Cold = `spok run JOB --cluster admin` through the Spark operator (a driver pod and
# executor pods per run; the job's .py shipped in a ConfigMap); warm = `spok run --warm` on a
# Kubernetes pool in the same namespace (server pod, executors by dynamic allocation, min 0,
# executor idle timeout 30s). The K cold runs come first, then one untimed warm run, then the K
# warm runs back to back (their executors stay warm); then it waits until the pool scaled its
# executors to zero and times one more warm count ("after idle"), and reports the memory the
# idle pool holds (the RSS of the server pod's processes, seen from this host).
set -euo pipefail
NODE=0
if [ "${1:-}" = --node ]; then NODE=1; shift; fi
K=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SPOK=${SPOK:-$ROOT/build/spok}
TMP=$(mktemp -d)
export SPOK_DATA_DIR=$TMP/data
if [ $NODE -eq 1 ]; then
	. "$ROOT/bench/warm/node.sh"
	exit 0
fi
cat >"$TMP/config.yaml" <<'YAML'
spok:
  pools:
    - name: bench
      idle-timeout: 30m
YAML
export SPOK_CONFIG=$TMP/config.yaml
trap '"$SPOK" session stop bench >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT

now() { date +%s%N; }
ms_since() { echo $((($(now) - $1) / 1000000)); }
# run_ms OUT JOB [FLAGS...]: wall ms of one `spok run -q`, its stdout checked
run_ms() {
	local out=$1 job=$2 t0
	shift 2
	t0=$(now)
	"$SPOK" run "$ROOT/examples/warm/$job.yaml" -q "$@" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
	grep -Eq '^(count: 1000000|Pi is roughly 3\.1)' "$TMP/out" || { echo "wrong answer: $(cat "$TMP/out")" >&2; exit 1; }
	eval "$out=\$(ms_since $t0)"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# field NAME: a field of the bench session (spok session list -o json)
field() {
	"$SPOK" session list -o json | sed -n "s/^ *\"$1\": \"*\([^\",]*\)\"*,*$/\1/p" | sed -n 1p
}

t0=$(now)
"$SPOK" session start bench >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
start_ms=$(ms_since "$t0")
run_ms first count --warm --pool bench
printf 'session start %d ms, first warm run after it %d ms\n' "$start_ms" "$first"

declare -A cold warm
for job in count pi; do
	cold[$job]=""
	warm[$job]=""
done
for i in $(seq 1 "$K"); do
	for job in count pi; do
		run_ms c "$job"
		run_ms w "$job" --warm --pool bench
		cold[$job]+=" $c"
		warm[$job]+=" $w"
		printf 'run %d %-5s cold %6d ms   warm %6d ms\n' "$i" "$job" "$c" "$w"
	done
done

# what the idle pool holds: every process of the server's group, and its supervisor
pid=$(field pid)
sup=$(field supervisor_pid)
rss_group=$(ps -o rss= -g "$pid" | awk '{s += $1} END {print int(s / 1024)}')
rss_sup=$(ps -o rss= -p "$sup" | awk '{print int($1 / 1024)}')
# the resident client (src/local/resident.c): the pid its log announced last
zpid=$(sed -n 's/^spok: resident client \([0-9]*\) ready on .*/\1/p' "$SPOK_DATA_DIR/sessions/bench/resident.log" 2>/dev/null | tail -n 1)
rss_res=0
if [ -n "$zpid" ]; then
	rss_res=$(ps -o rss= -p "$zpid" | awk '{print int($1 / 1024)}') || rss_res=0
fi
printf 'idle pool RSS: server process group %d MiB, supervisor %d MiB, resident client %d MiB\n' "$rss_group" "$rss_sup" "$rss_res"

line="summary:"
for job in count pi; do
	# shellcheck disable=SC2086 # lists of numbers
	mc=$(median ${cold[$job]})
	# shellcheck disable=SC2086
	mw=$(median ${warm[$job]})
	line+=$(awk -v j="$job" -v c="$mc" -v w="$mw" 'BEGIN { printf " %s cold %.1fs warm %.2fs warm/cold ratio %.3f (x%.1f faster);", j, c / 1000, w / 1000, w / c, c / w }')
done
line+=" server start ${start_ms} ms, first warm run ${first} ms; idle pool RSS ${rss_group} MiB (+ supervisor ${rss_sup} MiB, resident client ${rss_res} MiB); $K runs each, medians"
echo "$line"
