#!/usr/bin/env bash
# signals.sh SPOK_BINARY - how a local run ends when spok itself is stopped, through the real
# binary, real signals and real Spark (pyspark's spark-submit), in a throw-away data dir:
#   SIGHUP / SIGTERM / SIGINT / SIGQUIT to `spok run`: ABORTED with the signal in the reason,
#   spok ends by that signal, the properties file is gone, nothing left in Spark's group;
#   `spok run ... | head -1`: the run still goes to its end (SUCCEEDED);
#   SIGKILL to `spok run`: `spok logs -f` returns and settles the row, `spok list` settles it,
#   Spark's group is ended, the properties file is gone;
#   a job whose failure reason holds terminal escapes: `spok status`/`spok run` show them
#   escaped, JSON keeps them as \u001b, `spok logs` escapes on a terminal unless --raw.
set -uo pipefail
. "$(dirname "$0")/../proc.sh" # pgrp_members: live members only (zombies run nothing)
SPOK=$1
T=$(mktemp -d /tmp/spok-signals-XXXXXX)
export SPOK_DATA_DIR=$T/data
FAILED=0

cleanup() {
	local rows
	rows=$("$SPOK" list 2>/dev/null)
	for id in $(awk 'NR>1 && $3=="RUNNING" {print $1}' <<<"$rows"); do
		"$SPOK" abort "$id" --grace 1s >/dev/null 2>&1
	done
	rm -rf "$T"
}
trap cleanup EXIT

say() { printf '=== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
jget() {
	local j
	j=$("$SPOK" status "$1" -o json)
	sed -n "s/^  \"$2\": //p" <<<"$j" | sed 's/,$//; s/^"//; s/"$//'
}
has() { grep -q -- "$2" "$1" || { fail "$1 lacks '$2'"; sed 's/^/  | /' "$1" | tail -10 >&2; }; }
newest() { local rows; rows=$("$SPOK" list); awk 'NR==2 {print $1}' <<<"$rows"; }

mkdir -p "$T/jobs"
cat >"$T/jobs/sleep.py" <<'EOF'
import sys, time
print("started", flush=True)
for i in range(int(sys.argv[1])):
    print("tick", i, flush=True)
    time.sleep(1)
print("done", flush=True)
EOF
job() { # NAME SECONDS
	printf 'name: %s\ntype: PYTHON\nmainApplicationFile: sleep.py\nargs: ["%s"]\n' "$1" "$2" >"$T/jobs/$1.yaml"
}
job long 300
job short 5

# start_run NAME [ENV...]: `spok run` in the background (pid in RUNPID); waits until the job
# prints, then sets ID, PGID and RUNDIR.
start_run() {
	local name=$1 before
	shift
	before=$(newest)
	env "$@" "$SPOK" run "$T/jobs/$name.yaml" -q >"$T/run.out" 2>"$T/run.err" &
	RUNPID=$!
	ID="" PGID="" RUNDIR=""
	for _ in $(seq 1 240); do
		ID=$(newest)
		if [ -n "$ID" ] && [ "$ID" != "$before" ] &&
			grep -q started "$SPOK_DATA_DIR/runs/$ID/attempt-0.log" 2>/dev/null; then
			PGID=$(jget "$ID" pgid)
			RUNDIR=$SPOK_DATA_DIR/runs/$ID
			return 0
		fi
		sleep 1
	done
	fail "$name never started"
	cat "$T/run.err" >&2
	return 1
}

# ended_cleanly WHAT: no process left in Spark's group, no properties file left.
ended_cleanly() {
	local left props
	left=$(pgrp_members "$PGID")
	[ -z "$left" ] || fail "$1: processes left in group $PGID: $left"
	props=$(ls "$RUNDIR"/spark-conf-*.properties 2>/dev/null || true)
	[ -z "$props" ] || fail "$1: properties file left: $props"
}

for sig in HUP TERM INT QUIT USR1; do
	say "SIG$sig to spok run: ABORTED naming the signal, spok ends by it, nothing left"
	# Background jobs of a script start with SIGINT/SIGQUIT ignored (spok keeps an ignored
	# signal ignored, as nohup needs): give them their default back, as a terminal would.
	start_run long --default-signal=INT,QUIT || continue
	[ -n "$(ls "$RUNDIR"/spark-conf-*.properties 2>/dev/null)" ] || fail "SIG$sig: no properties file while running"
	kill -"$sig" "$RUNPID"
	wait "$RUNPID"
	rc=$?
	want=$((128 + $(kill -l "$sig")))
	[ "$rc" = "$want" ] || fail "SIG$sig: spok run exited $rc, want $want"
	[ "$(jget "$ID" phase)" = ABORTED ] || fail "SIG$sig: phase $(jget "$ID" phase), want ABORTED"
	case "$(jget "$ID" reason)" in
	*"SIG$sig"*) ;;
	*) fail "SIG$sig: reason '$(jget "$ID" reason)' does not name the signal" ;;
	esac
	ended_cleanly "SIG$sig"
done

say "spok run into head -1: the closed pipe does not end the run"
# A reader that leaves after one line, as `spok run job.yaml | head -1` has (written as a
# process substitution to get spok's own exit status).
"$SPOK" run "$T/jobs/short.yaml" -q 2>"$T/head.err" > >(head -1 >"$T/head.out")
rc=$?
wait $! 2>/dev/null
[ "$(cat "$T/head.out")" = started ] || fail "head -1 read '$(cat "$T/head.out")', want 'started'"
[ "$rc" = 0 ] || fail "spok run into head -1: spok exited $rc, want 0"
ID=$(newest)
RUNDIR=$SPOK_DATA_DIR/runs/$ID
PGID=$(jget "$ID" pgid)
[ "$(jget "$ID" phase)" = SUCCEEDED ] || fail "head -1: phase $(jget "$ID" phase), want SUCCEEDED"
ended_cleanly "head -1"

say "SIGKILL to spok run: spok logs -f returns and settles the row"
if start_run long; then
	kill -KILL "$RUNPID"
	wait "$RUNPID" 2>/dev/null
	timeout 120 "$SPOK" logs "$ID" -f >"$T/logs.out" 2>"$T/logs.err"
	rc=$?
	[ "$rc" = 0 ] || fail "logs -f after SIGKILL exited $rc, want 0 (124: it never returned)"
	has "$T/logs.out" started
	[ "$(jget "$ID" phase)" = ABORTED ] || fail "SIGKILL/logs: phase $(jget "$ID" phase), want ABORTED"
	case "$(jget "$ID" reason)" in
	"supervisor (pid $RUNPID) died; spok ended its spark process group") ;;
	*) fail "SIGKILL/logs: reason '$(jget "$ID" reason)'" ;;
	esac
	ended_cleanly "SIGKILL/logs"
fi

say "SIGKILL to spok run: spok list settles the row"
if start_run long; then
	kill -KILL "$RUNPID"
	wait "$RUNPID" 2>/dev/null
	"$SPOK" list >"$T/list.out" 2>"$T/list.err"
	row=$(awk -v id="$ID" '$1==id {print $3}' "$T/list.out")
	[ "$row" = ABORTED ] || fail "SIGKILL/list: list shows '$row', want ABORTED"
	case "$(jget "$ID" reason)" in
	"supervisor (pid $RUNPID) died; "*) ;;
	*) fail "SIGKILL/list: reason '$(jget "$ID" reason)'" ;;
	esac
	ended_cleanly "SIGKILL/list"
fi

say "terminal escapes in a failure reason are shown escaped"
cat >"$T/jobs/esc.py" <<'EOF'
print("log line \x1b]0;owned\x07 \x1b[31mred\x1b[0m", flush=True)
raise ValueError("\x1b[2J\x1b[Hscreen wiped \x9b")
EOF
printf 'name: esc\ntype: PYTHON\nmainApplicationFile: esc.py\n' >"$T/jobs/esc.yaml"
"$SPOK" run "$T/jobs/esc.yaml" -q >"$T/esc.out" 2>"$T/esc.err"
ID=$(newest)
"$SPOK" status "$ID" >"$T/status"
"$SPOK" list >"$T/list"
"$SPOK" status "$ID" -o json >"$T/status.json"
for f in "$T/status" "$T/list" "$T/esc.err"; do
	if grep -q $'\x1b' "$f"; then fail "$f holds a raw ESC"; fi
done
has "$T/status" 'Reason:     ValueError: \\x1b\[2J\\x1b\[Hscreen wiped \\u009b'
has "$T/esc.err" 'ValueError: \\x1b\[2J'
has "$T/status.json" '"reason": "ValueError: \\u001B\[2J\\u001B\[Hscreen wiped'
# The log is the job's own data: raw into a file, escaped on a terminal unless --raw.
"$SPOK" logs "$ID" >"$T/log.raw"
grep -q $'\x1b\\[31mred' "$T/log.raw" || fail "spok logs into a file changed the job's bytes"
script -qec "$SPOK logs $ID" /dev/null >"$T/log.tty" 2>&1
if grep -q $'\x1b' "$T/log.tty"; then fail "spok logs on a terminal let ESC through"; fi
has "$T/log.tty" '\\x1b\[31mred'
script -qec "$SPOK logs $ID --raw" /dev/null >"$T/log.rawtty" 2>&1
grep -q $'\x1b\\[31mred' "$T/log.rawtty" || fail "spok logs --raw on a terminal escaped the bytes"

"$SPOK" list
if [ "$FAILED" != 0 ]; then
	echo "signals: FAILED" >&2
	exit 1
fi
echo "signals: all passed"
