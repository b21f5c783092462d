#!/usr/bin/env bash
# resident.sh SPOK_BINARY - a local session's resident Python client (src/local/resident.c)
# with a real Spark Connect server and real pyspark: a warm run's client is a child the
# resident client forked (pyspark imported before the job's first line) and computes the right
# answer; argv, cwd, environment, __name__, __file__, sys.path[0], exit codes, SystemExit and
# tracebacks are those of plain python; a run whose environment differs where Python's start
# reads it is refused and runs python itself; abort and the task timeout end the forked child
# and what it started; a KILLed attempt process (the stub) takes its child with it; a KILLed
# resident client fails no later run (they run python themselves, then its restart serves
# them again); the session's stop ends it.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip_unless_ready

J=$T/jobs
mkdir -p "$J" "$T/sync" "$T/cwd"
cat >"$T/config.yaml" <<'YAML'
spok:
  pools:
    - name: default
      master: local[2]
      idle-timeout: 10m
YAML
export SPOK_CONFIG=$T/config.yaml
SOCK=$T/data/sessions/default/resident.sock
RLOG=$T/data/sessions/default/resident.log

# What a job sees of its process, the same lines under plain python and through the
# resident client (the first two lines say which ran it).
cat >"$J/probe.py" <<'PY'
import sys
print("preloaded", "pyspark.sql.connect.session" in sys.modules)
import os
try:
    parent = open("/proc/%d/cmdline" % os.getppid(), "rb").read().split(b"\0")
except OSError:
    parent = []
print("forked", any(a.endswith(b"/resident.sock") for a in parent))
print("name", __name__)
print("file", __file__)
print("argv", sys.argv)
print("cwd", os.getcwd())
print("path0", sys.path[0])
print("env", os.environ.get("SPOK_PROBE"), "pythonpath" if os.environ.get("PYTHONPATH") else "-")
print("group", os.getpgid(0) == os.getpid())
print("stdin", sys.stdin.read() == "", "stdout", sys.stdout.encoding, sys.stdout.write_through)
import atexit
atexit.register(lambda: print("atexit ran", flush=True))
mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "count":
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.getOrCreate()
    print("count", spark.range(1000).filter("id % 7 = 0").count())
elif mode == "exit":
    sys.exit(int(sys.argv[2]))
elif mode == "message":
    sys.exit("resident: a message to stderr")
elif mode == "raise":
    def inner():
        raise ValueError("resident: boom")
    inner()
PY
# A job that records its pid and the pid of a process it started, then waits (bounded).
cat >"$J/sleeper.py" <<'PY'
import os, subprocess, sys, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
kid = subprocess.Popen(["sleep", "600"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %d\n" % (os.getpid(), kid.pid))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
print("sleeper: ready", flush=True)
time.sleep(600)
PY
job() { # job NAME FILE [EXTRA YAML LINE] ARGS...
	local name=$1 file=$2 extra=$3
	shift 3
	{
		echo "name: $name"
		echo "type: PYTHON"
		echo "mainApplicationFile: $file"
		[ -n "$extra" ] && echo "$extra"
		printf 'args: ['
		local sep=""
		for a in "$@"; do printf '%s"%s"' "$sep" "$a"; sep=", "; done
		echo "]"
	} >"$J/$name.yaml"
}
job count probe.py "" count
job plain probe.py "" plain "two words"
job exit3 probe.py "" exit 3
job message probe.py "" message
job raise probe.py "" raise
job abort sleeper.py "" "$T/sync/abort"
job timeout sleeper.py "timeout: 40s" "$T/sync/timeout"
job killed sleeper.py "" "$T/sync/killed"
# the pid the resident client's log announced last
resident_pid() { sed -n 's/^spok: resident client \([0-9]*\) ready on .*/\1/p' "$RLOG" 2>/dev/null | tail -n 1; }
# any_rc CMD...: runs CMD with output to $T/out and $T/err, whatever it exits with (a failed
# job's phase and exit code are checked instead)
any_rc() { "$@" >"$T/out" 2>"$T/err"; }
last_id() { "$SPOK" list | awk 'NR==2 {print $1}'; }
gone() { ! alive "$1"; }

say "a warm run's client is forked by the resident client and counts right"
cd "$T/cwd" || exit 1
SPOK_PROBE=yes expect_rc 0 "$SPOK" run "$J/count.yaml" --warm -q
has "$T/out" "^count 143$"
[ -S "$SOCK" ] || fail "no resident client socket $SOCK"
stat -c %a "$(dirname "$SOCK")" >"$T/mode"
has "$T/mode" "^700$"
wait_for 60 sh -c "[ -n \"\$(sed -n 's/^spok: resident client \([0-9]*\) ready.*/\1/p' '$RLOG')\" ]" ||
	fail "the resident client never said it was ready: $(cat "$RLOG" 2>/dev/null)"
ZPID=$(resident_pid)
# the first run may have come before the resident client listened: this one goes through it
cd "$T/cwd" || exit 1
SPOK_PROBE=yes expect_rc 0 "$SPOK" run "$J/count.yaml" --warm -q
has "$T/out" "^preloaded True$"
has "$T/out" "^forked True$"
has "$T/out" "^count 143$"
has "$T/out" "^atexit ran$"
ID=$(last_id)
LOG=$T/data/runs/$ID/attempt-0.log
[ "$(xget "$ID" phase)" = SUCCEEDED ] || fail "$ID: $(xget "$ID" phase)"
grep -q "resident client:" "$LOG" && fail "the run fell back: $(cat "$LOG")"
# the session's token travels in the environment only: never in argv or the logs
TOKEN=$("$SPOK" session url default | sed -n 's/.*;token=\([^;]*\).*/\1/p')
[ -n "$TOKEN" ] || fail "no token in the session's URL"
grep -q -- "$TOKEN" "$RLOG" "$LOG" && fail "the token is in a log"
grep -qa -- "$TOKEN" /proc/"$ZPID"/cmdline && fail "the token is in the resident client's argv"

say "argv, cwd, environment, __name__, __file__, sys.path[0] as with plain python"
SPOK_PROBE=x expect_rc 0 "$SPOK" run "$J/plain.yaml" --warm -q
has "$T/out" "^forked True$"
grep -v -e '^preloaded' -e '^forked' "$T/out" >"$T/warm.lines"
# plain python as the warm run calls it: the job's file, its args, the environment spok adds
# (setsid: spok starts it as its process group's leader)
SPOK_PROBE=x PYTHONUNBUFFERED=1 setsid -w "$PY" "$J/probe.py" plain "two words" </dev/null >"$T/plain.out" 2>&1
grep -v -e '^preloaded' -e '^forked' "$T/plain.out" >"$T/plain.lines"
diff "$T/plain.lines" "$T/warm.lines" >"$T/diff" || { fail "the forked client differs from plain python"; cat "$T/diff" >&2; }
has "$T/warm.lines" "^argv \['$J/probe.py', 'plain', 'two words'\]$"
has "$T/warm.lines" "^cwd $T/cwd$"
has "$T/warm.lines" "^env x -$"
cd "$T" || exit 1

say "exit codes, SystemExit and tracebacks as with plain python"
any_rc "$SPOK" run "$J/exit3.yaml" --warm -q
has "$T/out" "^forked True$"
ID=$(last_id)
[ "$(xget "$ID" exit_code)" = 3 ] || fail "$ID: exit code $(xget "$ID" exit_code), want 3"
any_rc "$SPOK" run "$J/message.yaml" --warm
ID=$(last_id)
[ "$(xget "$ID" exit_code)" = 1 ] || fail "$ID: exit code $(xget "$ID" exit_code), want 1"
has "$T/data/runs/$ID/attempt-0.log" "^resident: a message to stderr$"
any_rc "$SPOK" run "$J/raise.yaml" --warm
ID=$(last_id)
[ "$(xget "$ID" exit_code)" = 1 ] || fail "$ID: exit code $(xget "$ID" exit_code), want 1"
"$PY" "$J/probe.py" raise </dev/null >/dev/null 2>"$T/plain.err"
sed -n '/^Traceback/,/^ValueError/p' "$T/plain.err" >"$T/plain.tb"
sed -n '/^Traceback/,/^ValueError/p' "$T/data/runs/$ID/attempt-0.log" >"$T/warm.tb"
has "$T/warm.tb" "^ValueError: resident: boom$"
diff "$T/plain.tb" "$T/warm.tb" >"$T/diff" || { fail "the traceback differs from plain python's"; cat "$T/diff" >&2; }
[[ "$(xget "$ID" reason)" == *"ValueError: resident: boom"* ]] || fail "$ID: reason '$(xget "$ID" reason)'"
has "$T/data/runs/$ID/attempt-0.log" "^atexit ran$"

say "a run whose environment differs where Python's start reads it runs python itself"
TZ=UTC0 expect_rc 0 "$SPOK" run "$J/count.yaml" --warm -q
has "$T/out" "^count 143$"
has "$T/out" "^forked False$"
has "$T/data/runs/$(last_id)/attempt-0.log" "^spok: resident client: its environment sets TZ unlike the resident client's; starting"
# a zip on PYTHONPATH offering a module it preloaded: plain python imports the zip's (here
# an empty pandas, which breaks the job: only the refusal is checked)
"$PY" -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("pandas/__init__.py", "")' "$T/shadow.zip"
PYTHONPATH=$T/shadow.zip any_rc "$SPOK" run "$J/count.yaml" --warm -q
has "$T/data/runs/$(last_id)/attempt-0.log" "shadow.zip/pandas would shadow a module it preloaded"

say "abort ends the forked child and what it started"
AID=$("$SPOK" run "$J/abort.yaml" --warm -d)
wait_for 120 test -f "$T/sync/abort" || fail "$AID never started: $(tail -5 "$T/data/runs/$AID/attempt-0.log")"
read -r CPID KPID <"$T/sync/abort"
expect_rc 0 "$SPOK" abort "$AID" --grace 5s
wait_for 60 sh -c "[ \"\$('$SPOK' list | awk '\$1==\"$AID\" {print \$3}')\" = ABORTED ]" || fail "$AID: $(xget "$AID" phase)"
wait_for 30 gone "$CPID" || fail "the aborted run's client $CPID still runs"
wait_for 30 gone "$KPID" || fail "the aborted run's subprocess $KPID still runs"

say "the task timeout ends the forked child"
any_rc "$SPOK" run "$J/timeout.yaml" --warm -q
ID=$(last_id)
[ "$(xget "$ID" phase)" = TIMED_OUT ] || fail "$ID: $(xget "$ID" phase), want TIMED_OUT"
[ -f "$T/sync/timeout" ] || fail "the timed-out run never started: $(tail -5 "$T/err")"
read -r CPID KPID <"$T/sync/timeout"
wait_for 30 gone "$CPID" || fail "the timed-out run's client $CPID still runs"
wait_for 30 gone "$KPID" || fail "the timed-out run's subprocess $KPID still runs"

say "a KILLed attempt process takes its forked child with it"
KID=$("$SPOK" run "$J/killed.yaml" --warm -d)
wait_for 120 test -f "$T/sync/killed" || fail "$KID never started"
read -r CPID KPID <"$T/sync/killed"
STUB=$(xget "$KID" pid)
[ "$STUB" != "$CPID" ] || fail "the recorded pid is the child's, not the attempt process's"
kill -KILL "$STUB"
wait_for 30 gone "$CPID" || fail "the KILLed stub's child $CPID still runs"
wait_for 30 gone "$KPID" || fail "the KILLed stub's child's subprocess $KPID still runs"
wait_for 60 sh -c "[ \"\$('$SPOK' list | awk '\$1==\"$KID\" {print \$3}')\" != RUNNING ]" || fail "$KID still RUNNING"

say "hostile requests neither stall nor end the resident client"
ZPID=$(resident_pid)
# one drips its header a byte every 2 s (the resident client gives a request 5 s in all),
# others send a bad header, a huge length without fds, half a header
"$PY" - "$SOCK" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    for b in b"SPR1\0\0\0":
        s.send(bytes([b]))
        time.sleep(2)
except OSError:
    pass
PY
DRIP=$!
sleep 0.5
"$PY" - "$SOCK" <<'PY' >"$T/hostile" 2>&1
import socket, struct, sys
for msg in (b"XXXX\0\0\0\0", b"SPR1" + struct.pack("=I", 1 << 30), b"SPR"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(30)
    print("answer", repr(s.recv(100)))
    s.close()
PY
has "$T/hostile" "^answer b''$"
cd "$T/cwd" || exit 1
SPOK_PROBE=yes expect_rc 0 "$SPOK" run "$J/count.yaml" --warm -q
has "$T/out" "^forked True$"
has "$T/out" "^count 143$"
kill "$DRIP" 2>/dev/null
wait "$DRIP" 2>/dev/null
[ "$(resident_pid)" = "$ZPID" ] && alive "$ZPID" || fail "the resident client $ZPID ended: $(tail -3 "$RLOG")"
has "$RLOG" "a request failed: ValueError"

say "a KILLed resident client fails no run; its restart serves the next ones"
ZPID=$(resident_pid)
kill -KILL "$ZPID"
wait_for 10 gone "$ZPID" || fail "the resident client $ZPID did not die"
expect_rc 0 "$SPOK" run "$J/count.yaml" --warm -q
has "$T/out" "^count 143$"
wait_for 120 sh -c "p=\$(sed -n 's/^spok: resident client \([0-9]*\) ready.*/\1/p' '$RLOG' | tail -n 1); [ -n \"\$p\" ] && [ \"\$p\" != $ZPID ]" ||
	fail "the resident client was not restarted: $(tail -3 "$RLOG")"
expect_rc 0 "$SPOK" run "$J/count.yaml" --warm -q
has "$T/out" "^forked True$"
has "$T/out" "^count 143$"

say "the session's stop ends the resident client"
ZPID=$(resident_pid)
expect_rc 0 "$SPOK" session stop default
wait_for 30 gone "$ZPID" || fail "the resident client $ZPID outlived its session"
[ -e "$SOCK" ] && fail "the socket is left after the stop"

exit $FAILED
