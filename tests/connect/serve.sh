#!/usr/bin/env bash
# serve.sh SPOK_BINARY - warm sessions through `spok serve`'s API with a real Spark Connect
# server and a real pyspark client: POST /api/v1/sessions answers 202 at once (STARTING: the
# loop does not wait for the server), the list shows the phase until RUNNING and the idle
# time; a project's second session past spok.server.sessions-per-project is refused (429); a
# client counts rows through the URL; another project's token neither sees, reads,
# starts nor stops it (403, absent from its list); the URL with the session's token comes only
# from GET .../NAME/url, to a token of the session's project (list and get show it without the
# token, which a client is refused with); the dashboard has the sessions section;
# POST .../stop answers 202 and the session ends STOPPED; without spok.server.local-runs the
# API refuses sessions naming the key.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip_unless_ready

TA=serve-sessions-token-alice-5c1f0e
TB=serve-sessions-token-bob-93d2a7
serve_fixture "$TA" "$TB"
config() { serve_config "$1"; }
start() { serve_start "$SPOK"; }
phase_of() { api "$TA" GET /api/v1/sessions/s1; [ "$(jget phase)" = "$1" ]; }

say "without local-runs: sessions refused, naming the key"
config ""
start
api "$TA" POST /api/v1/sessions '{"name": "s1", "pool": "small"}'
want 403 "create without local-runs"
has "$T/body" "spok.server.local-runs"
stop_daemon

say "create answers 202 at once; the list shows the phase, then RUNNING with the idle time"
config "local-runs: true
    sessions-per-project: 1"
start
api "$TA" GET /api/v1/pools
want 200 "pools"
has "$T/body" '"name":"small"'
api "$TA" POST /api/v1/sessions '{"name": "s1", "pool": "small"}'
want 202 "create"
[ "$(jget phase)" = STARTING ] || fail "create answered phase $(jget phase), want STARTING"
[ "$(jget project)" = pa ] || fail "the session's project is $(jget project), want pa (the token's one)"
api "$TA" POST /api/v1/sessions '{"name": "s1", "pool": "nosuch"}'
want 404 "an unknown pool"
wait_for 180 phase_of RUNNING || fail "s1 never RUNNING: $(cat "$T/body")"
BARE=$(jget url)
case "$BARE" in sc://localhost:*/\;user_id=alice) ;; *) fail "get's url '$BARE'" ;; esac
api "$TA" GET /api/v1/sessions/s1/url
want 200 "url"
URL=$(jget url)
case "$URL" in sc://localhost:*/\;token=*\;user_id=alice) ;; *) fail "url '$URL'" ;; esac
TOKEN=${URL#*;token=}
TOKEN=${TOKEN%%;*}
[ ${#TOKEN} -ge 32 ] || fail "token '$TOKEN' is short"
api "$TA" GET /api/v1/sessions
want 200 "list"
[ "$(jget items.0.name)" = s1 ] || fail "alice's list: $(cat "$T/body")"
IDLE=$(jget items.0.idleMs)
[[ "$IDLE" =~ ^[0-9]+$ ]] || fail "idleMs '$IDLE'"
has "$T/body" '"uiUrl":"http://127.0.0.1:'
grep -q "$TOKEN" "$T/body" && fail "the list holds the token"
api "$TA" GET /api/v1/sessions/s1
grep -q "$TOKEN" "$T/body" && fail "get holds the token"
api "$TA" POST /api/v1/sessions '{"name": "s1", "pool": "small"}'
want 200 "a second create of a running session"
api "$TA" POST /api/v1/sessions '{"name": "s2", "pool": "small"}'
want 429 "a second session of project pa (sessions-per-project: 1)"
has "$T/body" "spok.server.sessions-per-project"
api "$TA" GET /api/v1/sessions/s2
want 404 "a refused create recorded s2"
grep -q "$TOKEN" "$T/body" && fail "create holds the token"
SPARK_REMOTE="$BARE" timeout 120 "$PY" -c '
from pyspark.sql import SparkSession
print("rows", SparkSession.builder.getOrCreate().range(9).count())' >"$T/bare" 2>&1
has "$T/bare" "No authentication token provided"
SPARK_REMOTE="$URL" timeout 120 "$PY" -c '
from pyspark.sql import SparkSession
print("rows", SparkSession.builder.getOrCreate().range(9).count())' >"$T/client" 2>&1
has "$T/client" "rows 9"

say "another project's token: not listed, 403 on read, start and stop"
api "$TB" GET /api/v1/sessions
want 200 "bob's list"
[ "$(cat "$T/body")" = '{"items":[]}' ] || fail "bob sees alice's session: $(cat "$T/body")"
api "$TB" GET /api/v1/sessions/s1
want 403 "bob reads s1"
api "$TB" GET /api/v1/sessions/s1/url
want 403 "bob asks for s1's url"
grep -q "$TOKEN" "$T/body" && fail "bob's 403 holds the token"
api "$TB" POST /api/v1/sessions/s1/stop
want 403 "bob stops s1"
api "$TB" POST /api/v1/sessions '{"name": "s2", "pool": "small", "project": "pa"}'
want 403 "bob creates in project pa"
api "$TB" POST /api/v1/sessions '{"name": "s1", "pool": "small"}'
want 409 "bob takes the name s1"
grep -q '\bpa\b' "$T/body" && fail "bob's 409 names alice's project: $(cat "$T/body")"
phase_of RUNNING || fail "s1 not RUNNING after bob's tries"

say "the dashboard has the sessions section"
curl -sf "http://127.0.0.1:$PORT/" >"$T/dash" || fail "no dashboard"
has "$T/dash" "Warm sessions"
has "$T/dash" "/api/v1/sessions"

say "stop answers 202; the session ends STOPPED"
api "$TA" POST /api/v1/sessions/s1/stop
want 202 "stop"
wait_for 60 phase_of STOPPED || fail "s1 not STOPPED: $(cat "$T/body")"
R=$(jget reason)
[[ "$R" == *"stopped by spok session stop"* ]] || fail "s1's reason: $R"
api "$TA" GET /api/v1/sessions/s1/url
want 409 "url of a stopped session"
grep -q "$TOKEN" "$T/daemon.log" && fail "the daemon's log holds the token"
stop_daemon

[ "$FAILED" = 0 ] && echo "connect serve: all passed"
exit "$FAILED"
