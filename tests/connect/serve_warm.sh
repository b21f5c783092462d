#!/usr/bin/env bash
# serve_warm.sh SPOK_BINARY - warm runs through `spok serve` (its HTTP API) with a real Spark
# Connect server and real pyspark clients:
#   without spok.server.local-runs a task asking to run warm (sparkConf spok.warm) runs cold
#   as a transient run on the routed cluster, and its reply and record say why (fallback);
#   with local-runs, the first warm task starts its pool's session and waits for it without
#   blocking the daemon (the session list and /healthz answer while it starts; the run's row
#   says what it waits for), then runs as a Connect client of that session: the record names
#   the session and the session's Connect page, the log is the client's (no spark-submit);
#   a second one, by a rule of spok.warm-rules, reuses the session (no second server); an
#   abort (POST .../abort) interrupts that run's operation on the server, the session runs on;
#   the session's server killed mid-run: the retry restarts it (starts 2) and succeeds;
#   a token whose projects do not include the session's is refused (403, one line) and
#   nothing is created; a job Connect cannot run (RDDs) runs as a normal local run with the
#   reason in its record.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip_unless_ready

TA=serve-warm-token-alice-7e21c4
TB=serve-warm-token-bob-0d93f5
serve_fixture "$TA" "$TB"
RULES="  warm-rules:
    - name: 'rule*'
      labels: {size: small}
      pool: small"
config() { serve_config "$1" "$RULES"; }
J=$T/jobs
mkdir -p "$J"
cat >"$J/rdd.py" <<'PY'
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
print("rdd sum", spark.sparkContext.parallelize(range(10), 2).sum())
PY
# body NAME PROJECT FILE EXTRA-YAML [CLUSTER]: a submit body running FILE
body() {
	"$PY" -c 'import json, sys
name, project, main, extra, cluster, args = sys.argv[1:7]
b = {"taskYaml": "name: %s\nproject: %s\ntype: PYTHON\nmainApplicationFile: %s\nargs: %s\nretries: 1\n%s" % (name, project, main, args, extra)}
if cluster:
    b["cluster"] = cluster
print(json.dumps(b))' "$1" "$2" "$3" "$4" "${5:-}" "${ARGS:-[\"2\", \"20000\"]}"
}
PI=$SRC/examples/warm/pi.py
sid_of() { # the Connect session id spok gives attempt 0 of execution $1 (tests/connect/warm.sh)
	printf '%s' "${1#sp-}" | od -An -tx1 | tr -d ' \n' | sed 's/^/73706f6b/; s/$/0000000000000000/' |
		cut -c1-32 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/'
}
WARM=$'sparkConf: {spok.warm: small}\n'
xphase() { api "$TA" GET "/api/v1/executions/$1"; case "$(jget phase)" in SUCCEEDED|*FAILURE|ABORTED|TIMED_OUT) return 0 ;; esac; return 1; }
start() { serve_start "$SPOK"; }

say "without local-runs: a warm task runs cold on the routed cluster and says why"
config ""
start
# (a file of the image: a cluster run does not ship this host's files)
api "$TA" POST /api/v1/executions "$(body pi-cold pa local:///opt/spark/work-dir/pi.py "$WARM"$'image: apache/spark:4.0.5\n')"
want 201 "submit"
[ "$(jget cluster)" = c1 ] || fail "ran on $(jget cluster), want c1 (routing)"
F=$(jget fallback)
[[ "$F" == *"sparkConf spok.warm (pool small)"*"spok.server.local-runs"* ]] || fail "fallback '$F'"
[ "$(jget session)" = null ] || fail "a cold run names session $(jget session)"
ID=$(jget id)
api "$TA" GET "/api/v1/executions/$ID"
[ "$(jget fallback)" = "$F" ] || fail "the record's fallback '$(jget fallback)', want '$F'"
has "$T/daemon.log" "$ID: not warm: sparkConf spok.warm (pool small)"
stop_daemon

say "with local-runs: the first warm task starts the session without blocking the daemon"
config "local-runs: true"
start
api "$TA" POST /api/v1/executions "$(body pi-warm pa "$PI" "$WARM")"
want 201 "warm submit"
ID1=$(jget id)
[ "$(jget cluster)" = local ] || fail "warm ran on $(jget cluster), want local"
[ "$(jget session)" = small ] || fail "warm reply's session '$(jget session)'"
[ "$(jget fallback)" = null ] || fail "warm reply's fallback '$(jget fallback)'"
# the daemon answers while the session's server starts (a JVM: many seconds)
api "$TA" GET /api/v1/sessions/small
want 200 "the session while it starts"
[ "$(jget phase)" = STARTING ] || fail "session small is $(jget phase) right after the submit, want STARTING"
[ "$(jget project)" = pa ] || fail "session small belongs to '$(jget project)', want pa (the task's)"
curl -sf "http://127.0.0.1:$PORT/healthz" >"$T/health" || fail "/healthz does not answer while the session starts"
api "$TA" GET "/api/v1/executions/$ID1"
want 200 "the run while its session starts"
[ "$(jget phase)" = QUEUED ] || fail "the run is $(jget phase) before its session runs, want QUEUED"
[[ "$(jget reason)" == *"waiting for warm session small"* ]] || fail "the waiting run's reason '$(jget reason)'"
wait_for 300 xphase "$ID1" || fail "$ID1 never ended: $(cat "$T/body")"
[ "$(jget phase)" = SUCCEEDED ] || fail "$ID1: $(jget phase): $(jget reason)"
[ "$(jget session)" = small ] || fail "$ID1: the record's session '$(jget session)'"
[ "$(jget backend)" = local ] || fail "$ID1: backend '$(jget backend)'"
RUI=$(jget uiUrl)
has "$T/body" "/connect/session/?id="
api "$TA" GET /api/v1/sessions/small
[ "$(jget phase)" = RUNNING ] || fail "session small is $(jget phase) after the run, want RUNNING"
[ "$(jget uiUrl)" = "$RUI" ] || fail "the run's UI '$RUI' is not the session's '$(jget uiUrl)'"
curl -sS -o "$T/log1" -H "Authorization: Bearer $TA" "http://127.0.0.1:$PORT/api/v1/executions/$ID1/logs"
grep -Eq "^Pi is roughly 3\.1[0-9]" "$T/log1" || fail "no Pi in $ID1's log"
grep -q "Successfully started service 'SparkUI'" "$T/log1" && fail "$ID1's log is a Spark driver's, not a Connect client's"
has "$T/daemon.log" "session small (pool small) starting for warm execution $ID1"

say "a second warm task (by spok.warm-rules) reuses the session"
api "$TA" POST /api/v1/executions "$(body rule-pi pa "$PI" $'labels: {size: small}\n')"
want 201 "ruled submit"
ID2=$(jget id)
[ "$(jget session)" = small ] || fail "the ruled reply's session '$(jget session)'"
wait_for 300 xphase "$ID2" || fail "$ID2 never ended: $(cat "$T/body")"
[ "$(jget phase)" = SUCCEEDED ] || fail "$ID2: $(jget phase): $(jget reason)"
[ "$(jget session)" = small ] || fail "$ID2: the record's session '$(jget session)'"
api "$TA" GET /api/v1/sessions/small
[ "$(jget starts)" = 1 ] || fail "session small has had $(jget starts) servers, want 1 (reused)"

say "an abort of a warm run interrupts its operation on the server; the session goes on"
cat >"$J/long.py" <<'PY'
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
print("long: starting", flush=True)
print(spark.range(0, 10**13, numPartitions=2).selectExpr("sum(id % 7)").collect())
PY
api "$TA" POST /api/v1/executions "$(body long pa "$J/long.py" "$WARM")"
want 201 "long submit"
ID4=$(jget id)
UI=$RUI
APP=$(curl -sf "$UI/api/v1/applications" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
SID4=$(sid_of "$ID4")
running_of() { # running jobs on the server tagged with Connect session $1
	curl -sf "$UI/api/v1/applications/$APP/jobs?status=running" | "$PY" -c '
import json, sys
print(sum(1 for j in json.load(sys.stdin) if any("_Session_" + sys.argv[1] + "_" in t for t in j.get("jobTags", []))))' "$1"
}
wait_for 120 sh -c "[ \"\$(curl -sf '$UI/api/v1/applications/$APP/jobs?status=running' | grep -c '_Session_${SID4}_')\" -ge 1 ]" ||
	fail "$ID4's job never ran on the server"
api "$TA" POST "/api/v1/executions/$ID4/abort"
want 202 "abort $ID4"
wait_for 120 xphase "$ID4" || fail "$ID4 not ended after its abort"
[ "$(jget phase)" = ABORTED ] || fail "$ID4: $(jget phase) after its abort: $(jget reason)"
curl -sS -o "$T/log4" -H "Authorization: Bearer $TA" "http://127.0.0.1:$PORT/api/v1/executions/$ID4/logs"
has "$T/log4" "interrupted 1 operation(s)"
[ "$(running_of "$SID4")" = 0 ] || fail "$ID4's operation still runs on the server"
api "$TA" GET /api/v1/sessions/small
[ "$(jget phase)" = RUNNING ] || fail "session small is $(jget phase) after a run's abort, want RUNNING"

say "the session's server killed mid-run: the retry restarts it and succeeds"
mkdir -p "$T/sync"
cp "$(dirname "$0")/data/once.py" "$J/once.py"
SPID=$(sget small pid)
alive "$SPID" || fail "session small's server ($SPID) does not run"
api "$TA" POST /api/v1/executions "$(ARGS="[\"$T/sync/once-started\"]" body once pa "$J/once.py" "$WARM")"
want 201 "once submit"
ID5=$(jget id)
wait_for 120 test -e "$T/sync/once-started" || fail "once never started"
logged5() { curl -sS -o "$T/log5" -H "Authorization: Bearer $TA" "http://127.0.0.1:$PORT/api/v1/executions/$ID5/logs"; grep -q "$1" "$T/log5"; }
wait_for 60 logged5 "once: long query" || fail "once's query never started"
kill -9 "$SPID"
wait_for 300 xphase "$ID5" || fail "$ID5 never ended after its server died"
[ "$(jget phase)" = SUCCEEDED ] || fail "$ID5: $(jget phase): $(jget reason)"
[ "$(jget attempt)" = 1 ] || fail "$ID5: attempt $(jget attempt), want 1 (the retry)"
logged5 "once: rows 11" || fail "the retry's log lacks its rows: $(tail -5 "$T/log5")"
api "$TA" GET /api/v1/sessions/small
[ "$(jget starts)" = 2 ] || fail "the retry did not restart the server (starts $(jget starts))"
[ "$(jget phase)" = RUNNING ] || fail "session small is $(jget phase) after the retry"

say "a token whose projects do not include the session's is refused"
api "$TB" POST /api/v1/executions "$(body pi-bob pb "$PI" "$WARM")"
want 403 "bob's warm task on alice's session"
has "$T/body" "may not use warm session 'small'"
grep -q '\bpa\b' "$T/body" && fail "bob's 403 names alice's project: $(cat "$T/body")"
api "$TB" GET /api/v1/executions
[ "$(jget items.0.id)" = null ] || fail "bob's refused submit created $(jget items.0.id)"
api "$TB" POST /api/v1/executions "$(body pi-bob pa "$PI" "$WARM")"
want 403 "bob's task of project pa"

say "a job Connect cannot run runs as a normal local run, and says why"
api "$TA" POST /api/v1/executions "$(body rdd pa "$J/rdd.py" "$WARM" local)"
want 201 "rdd submit"
ID3=$(jget id)
F=$(jget fallback)
[[ "$F" == "sparkConf spok.warm (pool small): "*"rdd.py"* ]] || fail "rdd fallback '$F'"
api "$TA" GET "/api/v1/executions/$ID3"
[ "$(jget session)" = null ] || fail "$ID3 names session $(jget session)"
[ "$(jget fallback)" = "$F" ] || fail "$ID3's record: fallback '$(jget fallback)'"
[ "$(jget backend)" = local ] || fail "$ID3: backend '$(jget backend)'"
api "$TA" POST "/api/v1/executions/$ID3/abort"
want 202 "abort $ID3"
wait_for 60 xphase "$ID3" || fail "$ID3 never ended"

api "$TA" POST /api/v1/sessions/small/stop
stop_daemon

[ "$FAILED" = 0 ] && echo "connect serve_warm: all passed"
exit "$FAILED"
