#!/usr/bin/env bash
# noread.sh SPOK_BINARY - progress reads happen only while someone watches (label `progress`;
# no Spark: a stand-in spark-submit under $SPARK_HOME announces a "Spark UI" that is a small
# HTTP listener of this test, which counts the requests it gets):
#   1. `spok run` to a file: nobody watches the numbers, so the UI is never read while the
#      run is RUNNING with its UI known (observed over a window of several read intervals);
#   2. the same run on a terminal (a pty from script(1)): the live line reads the UI (the
#      positive control: the stand-in and the listener do work).
# Why it matters: a Spark UI's first status read costs its driver seconds of CPU
# (bench/README.md, "local").
set -uo pipefail
SPOK=$(realpath "$1")
T=$(mktemp -d /tmp/spok-noread-XXXXXX)
export SPOK_DATA_DIR=$T/data
FAILED=0
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
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
requests() { wc -l <"$T/requests"; }
has_requests() { [ "$(requests)" -ge 1 ]; }
newest() { "$SPOK" list | awk 'NR==2 {print $1}'; }
has_runs() { [ "$("$SPOK" list | awk 'NR>1' | wc -l)" -ge "$1" ]; }
# ui_known ID: the stored row is RUNNING and names the UI (the watcher has had the URL).
ui_known() {
	local j
	j=$("$SPOK" status "$1" -o json) || return 1
	grep -q '"phase": "RUNNING"' <<<"$j" && grep -q "\"ui_url\": \"http://127.0.0.1:$PORT\"" <<<"$j"
}

# The "UI": answers every GET with 404 and appends its path to $T/requests.
: >"$T/requests"
python3 - "$T/port" "$T/requests" <<'PY' &
import http.server, sys
port_file, log = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        self.send_error(404)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
PY
PIDS+=($!)
wait_for 30 test -s "$T/port" || die "the test's listener did not start"
PORT=$(cat "$T/port")

# The stand-in: Spark's UI line on stderr, then it waits (bounded) for the test's release.
mkdir -p "$T/spark/bin" "$T/jobs"
cat >"$T/spark/bin/spark-submit" <<EOF
#!/bin/sh
echo "INFO Utils: Successfully started service 'SparkUI' on port $PORT." >&2
n=0
while [ ! -e "\$RELEASE" ] && [ \$n -lt 600 ]; do sleep 0.2; n=\$((n + 1)); done
echo done
EOF
chmod +x "$T/spark/bin/spark-submit"
printf '%s\n' 'print("not run: the stand-in spark-submit does not start Python")' >"$T/jobs/job.py"
printf '%s\n' "name: noread" "type: PYTHON" "mainApplicationFile: job.py" >"$T/jobs/job.yaml"
export SPARK_HOME=$T/spark

say "1. spok run to a file: no reads"
RELEASE=$T/release-1 "$SPOK" run "$T/jobs/job.yaml" >"$T/run1.out" 2>"$T/run1.err" &
RUN=$!
PIDS+=("$RUN")
wait_for 60 has_runs 1 || die "no execution recorded"
ID=$(newest)
wait_for 60 ui_known "$ID" || die "the run never recorded its UI: $(cat "$T/run1.err")"
sleep 3 # six read intervals (SPOK_CLI_WATCH_POLL_MS): a reader would have asked by now
touch "$T/release-1"
wait "$RUN" || fail "spok run exited $?: $(cat "$T/run1.err")"
[ "$(requests)" = 0 ] || fail "spok run to a file read the UI: $(sort "$T/requests" | uniq -c)"
grep -q "^[0-9T:Z-]* execution $ID SUCCEEDED$" "$T/run1.err" ||
	fail "spok run's final phase line: $(cat "$T/run1.err")"

say "2. the same on a terminal: the live line reads the UI"
script -qfec "RELEASE=$T/release-2 $SPOK run $T/jobs/job.yaml" "$T/tty" >/dev/null 2>&1 &
RUN=$!
PIDS+=("$RUN")
wait_for 120 has_requests || fail "spok run on a terminal never read the UI"
grep -q '^/api/v1/applications' "$T/requests" || fail "requests: $(cat "$T/requests")"
touch "$T/release-2"
wait "$RUN" || fail "spok run (terminal) exited $?"

[ $FAILED = 0 ] && echo "noread: all checks passed"
exit $FAILED
