#!/usr/bin/env bash
# progress.sh SPOK_BINARY - live progress of local runs from Spark's own status REST API
# (label `progress`), with real Spark:
#   1. a job of three jobs and five stages run by `spok run` on a terminal (a pty from
#      script(1)): the live line is drawn in place with a bar and its numbers; a job
#      description with escape sequences is shown escaped; `spok status ID --watch -o json`
#      beside it streams JSON lines whose last progress equals the totals the job computed
#      from the same REST API (all tasks done); `--watch` on the finished execution returns at
#      once, as a line and as JSON.
#   2. a job with a task attempt that fails (and is retried): the failed task is shown; `spok
#      run` and `spok status --watch` to files and pipes write phase lines with time stamps and
#      not one escape byte (spok run's without numbers: it reads no progress there).
# The job waits for a release file after writing its totals, so the watchers see the final
# numbers before the application ends; every wait is bounded, nothing asserts a duration.
set -uo pipefail
SPOK=$(realpath "$1")
SRC=${SPOK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/spok-progress-XXXXXX)
export SPOK_DATA_DIR=$T/data
FAILED=0
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for id in $("$SPOK" list 2>/dev/null | awk 'NR>1 && $3=="RUNNING" {print $1}'); do
		"$SPOK" abort "$id" --grace 1s >/dev/null 2>&1
	done
	rm -rf "$T"
}
trap cleanup EXIT

say() { printf '=== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { fail "$*"; exit 1; }
# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds (a bound, not a measure).
wait_for() {
	local n=$(($1 * 5))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.2
	done
}
runs() { "$SPOK" list | awk 'NR>1' | wc -l; }
newest() { "$SPOK" list | awk 'NR==2 {print $1}'; }
has_runs() { [ "$(runs)" -ge "$1" ]; }
# last_progress FILE KEY: KEY of the last JSON line of FILE that has progress ("" if none).
last_progress() {
	python3 - "$1" "$2" <<'PY'
import json, sys
v = ""
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("progress") and o["progress"].get(sys.argv[2]) is not None:
        v = o["progress"][sys.argv[2]]
print(v)
PY
}
total() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# reached FILE TOTALS: the watch stream's last progress shows the job's final totals.
reached() {
	[ -s "$2" ] && [ "$(last_progress "$1" tasks_done)" = "$(total "$2" tasks_done)" ] &&
		[ "$(last_progress "$1" tasks_total)" = "$(total "$2" tasks_total)" ] &&
		[ "$(last_progress "$1" tasks_failed)" = "$(total "$2" tasks_failed)" ]
}
no_esc() { if grep -q $'\x1b' "$1"; then fail "$2 holds an escape byte"; fi; }

mkdir -p "$T/jobs"
cp "$SRC/tests/progress/stages.py" "$T/jobs/"
for mode in ok fail; do
	printf '%s\n' "name: stages-$mode" "type: PYTHON" "mainApplicationFile: stages.py" \
		"args: [\"$T/release-$mode\", \"$T/totals-$mode.json\", \"$mode\"]" "retries: 0" \
		>"$T/jobs/$mode.yaml"
done

say "1. several stages on a terminal; status --watch -o json beside it"
# a wide pty, so the line's end (the job's name) is not cut to 80 columns
script -qfec "stty cols 200 && exec $SPOK run $T/jobs/ok.yaml" "$T/tty" >/dev/null 2>&1 &
RUN=$!
PIDS+=("$RUN")
wait_for 120 has_runs 1 || die "no execution recorded"
ID=$(newest)
"$SPOK" status "$ID" --watch -o json >"$T/watch.jsonl" 2>"$T/watch.err" &
WATCH=$!
PIDS+=("$WATCH")
wait_for 300 reached "$T/watch.jsonl" "$T/totals-ok.json" ||
	fail "the watch stream never showed the job's totals $(cat "$T/totals-ok.json" 2>/dev/null)"
touch "$T/release-ok"
wait "$RUN" || fail "spok run exited $?"
wait "$WATCH" || fail "spok status --watch -o json exited $?"
[ "$(total "$T/totals-ok.json" tasks_done)" = "$(total "$T/totals-ok.json" tasks_total)" ] ||
	fail "the REST API does not show all tasks done: $(cat "$T/totals-ok.json")"
[ "$(total "$T/totals-ok.json" jobs)" = 3 ] || fail "jobs: $(cat "$T/totals-ok.json")"
reached "$T/watch.jsonl" "$T/totals-ok.json" || fail "final progress differs from the REST API"
last=$(tail -n 1 "$T/watch.jsonl")
case $last in *'"phase":"SUCCEEDED"'*) ;; *) fail "last JSON line: $last" ;; esac
[ "$(last_progress "$T/watch.jsonl" executors)" = 1 ] ||
	fail "executors: $(last_progress "$T/watch.jsonl" executors)"
no_esc "$T/watch.jsonl" "status --watch -o json"
grep -qi '"job":{"id":0,"name":"count \\u001b\[31mred\\u001b\[0m"}' "$T/watch.jsonl" ||
	fail "the JSON stream lacks job 0's description (JSON-escaped)"
grep -q 'tasks, 0 failed' "$T/tty" || fail "the terminal shows no progress line"
grep -q $'\r\x1b\\[KRUNNING [0-9]' "$T/tty" || fail "the live line is not redrawn in place"
done_total="$(total "$T/totals-ok.json" tasks_done)/$(total "$T/totals-ok.json" tasks_total)"
grep -q "\[====================\] $done_total tasks" "$T/tty" ||
	fail "no full bar with the final numbers $done_total on the terminal"
grep -q 'SUCCEEDED [0-9hms]* \[' "$T/tty" || fail "the final line is not kept"
grep -q 'count \\x1b\[31mred' "$T/tty" || fail "the job description is not shown escaped"
if grep -q $'\x1b\\[31m' "$T/tty"; then fail "the job description's escapes reached the terminal"; fi

say "--watch on a finished execution returns at once"
timeout 30 "$SPOK" status "$ID" --watch >"$T/fin.txt" 2>&1 || fail "status --watch (finished) exited $?"
{ [ "$(wc -l <"$T/fin.txt")" = 1 ] && grep -q "^[0-9T:Z-]* execution $ID SUCCEEDED" "$T/fin.txt"; } ||
	fail "status --watch (finished): $(cat "$T/fin.txt")"
timeout 30 "$SPOK" status "$ID" --watch -o json >"$T/fin.json" 2>&1 ||
	fail "status --watch -o json (finished) exited $?"
{ [ "$(wc -l <"$T/fin.json")" = 1 ] && grep -q '"phase":"SUCCEEDED"' "$T/fin.json"; } ||
	fail "status --watch -o json (finished): $(cat "$T/fin.json")"
no_esc "$T/fin.txt" "status --watch (finished)"
timeout 30 "$SPOK" status "$ID" --watch -o yaml >/dev/null 2>"$T/yaml.err"
rc=$?
{ [ $rc = 2 ] && grep -q "use -o json" "$T/yaml.err"; } || fail "--watch -o yaml ($rc): $(cat "$T/yaml.err")"

say "2. a failing task attempt, not on a terminal"
"$SPOK" run "$T/jobs/fail.yaml" --master 'local[2,2]' >"$T/run2.out" 2>"$T/run2.err" &
RUN=$!
PIDS+=("$RUN")
wait_for 120 has_runs 2 || die "no second execution recorded"
ID2=$(newest)
"$SPOK" status "$ID2" --watch -o json >"$T/watch2.jsonl" 2>&1 &
WATCH=$!
PIDS+=("$WATCH")
"$SPOK" status "$ID2" --watch 2>&1 | cat >"$T/watch2.txt" &
PLAIN=$!
PIDS+=("$PLAIN")
wait_for 300 reached "$T/watch2.jsonl" "$T/totals-fail.json" ||
	fail "the watch stream never showed the job's totals $(cat "$T/totals-fail.json" 2>/dev/null)"
touch "$T/release-fail"
wait "$RUN" || fail "spok run (failing task) exited $?: $(tail -n 5 "$T/run2.err")"
wait "$WATCH" || fail "status --watch -o json exited $?"
wait "$PLAIN" || fail "status --watch | cat exited $?"
[ "$(total "$T/totals-fail.json" tasks_failed)" -ge 1 ] || fail "no failed task: $(cat "$T/totals-fail.json")"
[ "$(last_progress "$T/watch2.jsonl" tasks_failed)" = "$(total "$T/totals-fail.json" tasks_failed)" ] ||
	fail "failed tasks: watch $(last_progress "$T/watch2.jsonl" tasks_failed), REST $(cat "$T/totals-fail.json")"
no_esc "$T/run2.err" "spok run's stderr (a file)"
no_esc "$T/run2.out" "spok run's stdout (a file)"
no_esc "$T/watch2.txt" "status --watch (a pipe)"
grep -q "^[0-9]*-[0-9]*-[0-9]*T[0-9:]*Z execution $ID2 RUNNING" "$T/run2.err" ||
	fail "no time-stamped RUNNING line on spok run's stderr"
# spok run to a file reads no progress (nobody watches it live): phase lines only
grep -q "^[0-9T:Z-]* execution $ID2 SUCCEEDED$" "$T/run2.err" ||
	fail "spok run's final phase line: $(grep "execution $ID2" "$T/run2.err")"
grep -q "^[0-9T:Z-]* execution $ID2 SUCCEEDED ([0-9]*/[0-9]* tasks, [1-9][0-9]* failed" "$T/watch2.txt" ||
	fail "status --watch | cat: the final phase line lacks the failed task: $(cat "$T/watch2.txt")"

[ $FAILED = 0 ] && echo "progress: all checks passed"
exit $FAILED
