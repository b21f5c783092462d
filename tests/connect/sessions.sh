#!/usr/bin/env bash
# sessions.sh SPOK_BINARY - warm Spark Connect sessions on this machine with a real server
# (pyspark 4.0.5's spark-submit, whose jars hold the server, OpenJDK 17) and a real pyspark client:
#   start, list, url (a client counts rows through it), stop; a config error names
#   file:line:col; the server killed with -9 (the supervisor records FAILED) and the next use
#   restarts it; the supervisor killed with -9 (the next reader settles the row and ends the
#   server); idle reaping and the max-lifetime by the supervisor.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip_unless_ready

cat >"$T/config.yaml" <<'YAML'
spok:
  pools:
    - name: small
      master: local[1]
      spark-conf:
        spark.driver.memory: 512m
    - name: quick
      master: local[1]
      idle-timeout: 2s
    - name: brief
      master: local[1]
      idle-timeout: 1h
      max-lifetime: 3s
    - name: lazy
      master: local[1]
      idle-timeout: 40s
YAML
cat >"$T/bad.yaml" <<'YAML'
spok:
  pools:
    - name: small
      idle-timeout: soon
YAML
export SPOK_CONFIG=$T/config.yaml

say "config errors: one line with file:line:col, nothing started"
expect_rc 2 "$SPOK" session start x --config "$T/bad.yaml"
has "$T/err" "bad.yaml:4:21: spok.pools\[0\].idle-timeout"
expect_rc 4 "$SPOK" session start x --pool nosuch
has "$T/err" "no such pool"
expect_rc 2 "$SPOK" session start "Bad Name"
expect_rc 0 "$SPOK" session list
[ "$(wc -l <"$T/out")" = 1 ] || fail "a refused start recorded a session"

say "start, list, url, a real client, stop"
expect_rc 0 "$SPOK" session start s1 --pool small
URL=$(cat "$T/out")
case "$URL" in sc://localhost:*/\;token=*\;user_id=*) ;; *) fail "start printed '$URL'" ;; esac
has "$T/err" "clients need its URL's token; the server listens on 127.0.0.1 only"
[ "$(sget s1 phase)" = RUNNING ] || fail "s1 not RUNNING"
[ "$(sget s1 pool)" = small ] || fail "s1 not in pool small"
PID=$(sget s1 pid)
alive "$PID" || fail "s1's server $PID does not run"
expect_rc 0 "$SPOK" session url s1
[ "$(cat "$T/out")" = "$URL" ] || fail "url printed '$(cat "$T/out")', start '$URL'"
expect_rc 0 "$SPOK" session start s1 --pool small   # idempotent: the running one
[ "$(sget s1 starts)" = 1 ] || fail "a second start restarted s1"
expect_rc 3 "$SPOK" session start s1 --pool quick  # another pool: refused
has "$T/err" "runs in pool small"
SPARK_REMOTE="$URL" "$PY" -c '
from pyspark.sql import SparkSession
print("rows", SparkSession.builder.getOrCreate().range(7).count())' >"$T/client" 2>&1
has "$T/client" "rows 7"
expect_rc 0 "$SPOK" session stop s1
has "$T/err" "session s1 STOPPED: stopped by spok session stop"
alive "$PID" && fail "s1's server $PID still runs after stop"
[ "$(sget s1 url)" = null ] || fail "a stopped session has a url"

say "the server killed with -9: FAILED, restarted on next use"
expect_rc 0 "$SPOK" session start s2 --pool small
PID=$(sget s2 pid)
SUP=$(sget s2 supervisor_pid)
kill -9 "$PID"
wait_for 60 sh -c "[ \"\$('$SPOK' session list | awk '\$1==\"s2\" {print \$3}')\" = FAILED ]" ||
	fail "s2 not FAILED after its server was killed"
R=$(sget s2 reason)
[[ "$R" == *"killed by signal 9"* ]] || fail "s2's reason: $R"
wait_for 30 proc_gone "$SUP" || fail "s2's supervisor $SUP outlived its server"
expect_rc 0 "$SPOK" session url s2
[ "$(sget s2 phase)" = RUNNING ] || fail "s2 not restarted by url"
[ "$(sget s2 starts)" = 2 ] || fail "s2 starts $(sget s2 starts), want 2"
has "$T/err" "session s2 started"

say "the supervisor killed with -9: the next reader settles the row and ends the server"
PID=$(sget s2 pid)
SUP=$(sget s2 supervisor_pid)
kill -9 "$SUP"
wait_for 10 proc_gone "$SUP"
expect_rc 0 "$SPOK" session list
grep -q "^s2 .*FAILED.*supervisor (pid $SUP) died; spok ended its Spark Connect server" "$T/out" ||
	{ fail "s2 not settled by list"; cat "$T/out" >&2; }
alive "$PID" && fail "s2's server $PID outlived the settle"

say "idle reaping and max-lifetime (by the supervisor)"
expect_rc 0 "$SPOK" session start s3 --pool quick
expect_rc 0 "$SPOK" session start s4 --pool brief
wait_for 90 sh -c "[ \"\$('$SPOK' session list | awk '\$1==\"s3\" {print \$3}')\" = STOPPED ]" ||
	fail "s3 not reaped when idle"
R=$(sget s3 reason)
[[ "$R" == *"idle for 2s (pool quick's idle-timeout)"* ]] || fail "s3's reason: $R"
wait_for 90 sh -c "[ \"\$('$SPOK' session list | awk '\$1==\"s4\" {print \$3}')\" = STOPPED ]" ||
	fail "s4 not stopped at its max-lifetime"
R=$(sget s4 reason)
[[ "$R" == *"reached pool brief's max-lifetime of 3s"* ]] || fail "s4's reason: $R"

say "a brief client that leaves between two looks for activity (every 10s here) counts as use"
expect_rc 0 "$SPOK" session start s5 --pool lazy
BEFORE=$(sget s5 last_used_ms)
# a pyspark client holds its channel for seconds (a look may see it open): this one connects,
# says it is done (FIN) and reads the server's close, in milliseconds, as a client that closes
# its channel cleanly does
"$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
while s.recv(4096):
    pass
s.close()' "$(sget s5 port)" || fail "cannot connect to s5's port"
used_since() { [ "$(sget s5 last_used_ms)" -gt "$BEFORE" ]; }
wait_for 40 used_since || fail "s5's brief client was not seen: last used $(sget s5 last_used_ms), before $BEFORE"
expect_rc 0 "$SPOK" session stop s5

[ "$FAILED" = 0 ] && echo "connect sessions: all passed"
exit "$FAILED"
