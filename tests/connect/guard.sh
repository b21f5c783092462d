#!/usr/bin/env bash
# guard.sh SPOK_BINARY - the sessions API and CLI against hostile or broken input, with no
# Spark Connect server (SPARK_HOME is pointed away: a supervisor that runs ends the session
# FAILED at once), so it runs with the quick tests:
#   a session whose supervisor cannot begin ends FAILED instead of STARTING for as long as the
#   daemon lives: the pool it names was removed from the config file since the daemon read
#   it, or the spok binary the daemon runs was deleted (an upgrade) so the supervisor's exec
#   fails (503 naming it, not a storage error); another project's token cannot read or stop
#   a session, nor ask for its URL, and takes the name of one that ended; the URL of a session
#   that does not run is 409; a project that is not a name is refused; `spok session list`
#   shows the project (column, -o json and yaml); a bad spok.pools stops the daemon's start,
#   and so does a pool that sets Spark Connect's token itself (every session has its own).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

PID=""
stop_daemon() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID"; PID=""; }
trap 'stop_daemon; cleanup' EXIT
export SPARK_HOME=$T/no-spark
TA=guard-token-alice-51e0c3
TB=guard-token-bob-8b7f12
TR=guard-token-root-2c94aa
read -r HA _ < <(printf '%s' "$TA" | sha256sum)
read -r HB _ < <(printf '%s' "$TB" | sha256sum)
read -r HR _ < <(printf '%s' "$TR" | sha256sum)
cat >"$T/tokens.yaml" <<Y
- {name: alice, token-sha256: $HA, projects: [pa]}
- {name: bob, token-sha256: $HB, projects: [pb]}
- {name: root, token-sha256: $HR, projects: ['*']}
Y
down_kubeconfig "$T/down.kubeconfig"
config() { # POOL...
	{
		printf 'spok:\n  clusters:\n  - {name: c1, kubeconfig: %s, context: down}\n' "'$T/down.kubeconfig'"
		printf '  server:\n    listen: 127.0.0.1:0\n    tokens-file: tokens.yaml\n    local-runs: true\n  pools:\n'
		for p in "$@"; do printf '    - {name: %s, master: "local[1]"}\n' "$p"; done
	} >"$T/config.yaml"
}
# The daemon runs a copy of the binary, which the last case deletes.
cp "$SPOK" "$T/spok-copy"
start() { serve_start "$T/spok-copy"; }
phase_is() { api "$TA" GET "/api/v1/sessions/$1"; [ "$(jget phase)" = "$2" ]; }

say "a bad spok.pools stops the daemon's start with file:line:col (not a 400 on each request)"
config small
printf '    - {name: small, idle-timeout: soon}\n' >>"$T/config.yaml"
expect_rc 2 timeout 60 "$SPOK" serve --config "$T/config.yaml" --data-dir "$T/data"
has "$T/err" "config.yaml:.*spok.pools\[1\].idle-timeout"
config small
printf '    - {name: shared, spark-conf: {spark.connect.authenticate.token: one-for-all}}\n' >>"$T/config.yaml"
expect_rc 2 timeout 60 "$SPOK" serve --config "$T/config.yaml" --data-dir "$T/data"
has "$T/err" "config.yaml:.*spok.pools\[1\].spark-conf.spark.connect.authenticate.token: spok gives every session a token of its own"
grep -q one-for-all "$T/err" && fail "the error shows the configured token"

config small gone
start

say "a session ends FAILED with its reason (no jar here); the CLI's list shows its project"
api "$TA" POST /api/v1/sessions '{"name": "s1", "pool": "small"}'
want 202 "create s1"
wait_for 60 phase_is s1 FAILED || fail "s1 not FAILED: $(cat "$T/body")"
[ "$(jget reason)" != null ] || fail "s1 FAILED without a reason"
expect_rc 0 "$SPOK" session list --data-dir "$T/data"
grep -Eq '^s1 +small +FAILED +pa ' "$T/out" || { fail "session list lacks s1's project"; cat "$T/out" >&2; }
[[ "$(sed -n 1p "$T/out")" =~ ^NAME\ +POOL\ +PHASE\ +PROJECT\  ]] || fail "session list header: $(sed -n 1p "$T/out")"
expect_rc 0 "$SPOK" session list --data-dir "$T/data" -o json
[ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["project"])' "$T/out")" = pa ] ||
	fail "session list -o json lacks the project: $(cat "$T/out")"
expect_rc 0 "$SPOK" session list --data-dir "$T/data" -o yaml
has "$T/out" "project: pa"

say "another project's token: 403 on read and stop; an ended session's name is free for it"
api "$TB" GET /api/v1/sessions/s1
want 403 "bob reads s1"
api "$TB" POST /api/v1/sessions/s1/stop
want 403 "bob stops s1"
api "$TB" GET /api/v1/sessions/s1/url
want 403 "bob asks for s1's url"
api "$TB" GET /api/v1/sessions
[ "$(cat "$T/body")" = '{"items":[]}' ] || fail "bob's list: $(cat "$T/body")"
api "$TA" GET /api/v1/sessions/s1/url
want 409 "the url of a FAILED session"
api "$TA" POST /api/v1/sessions/s1/url
want 405 "POST to url"
api "$TA" GET /api/v1/sessions/nosuch/url
want 404 "the url of no session"
api "$TB" POST /api/v1/sessions '{"name": "s1", "pool": "small"}'
want 202 "bob takes the name of alice's ended s1"
[ "$(jget project)" = pb ] || fail "s1 after bob's create: project $(jget project), want pb"
api "$TA" GET /api/v1/sessions/s1
want 403 "alice reads s1 after bob took the name"

say "a project that is not a name is refused (it reaches terminals and logs)"
api "$TR" POST /api/v1/sessions '{"name": "s9", "pool": "small", "project": "x\u001b[2Jy"}'
want 400 "a project with an escape sequence"
api "$TR" POST /api/v1/sessions "{\"name\": \"s9\", \"pool\": \"small\", \"project\": \"$(printf 'p%.0s' $(seq 70))\"}"
want 400 "a 70-character project"
api "$TR" GET /api/v1/sessions/s9
want 404 "a refused create recorded s9"

say "the pool was removed from the config file since the daemon read it: FAILED, not STARTING"
config small
api "$TA" POST /api/v1/sessions '{"name": "s2", "pool": "gone"}'
want 202 "create s2 in pool gone"
wait_for 60 phase_is s2 FAILED || fail "s2 still $(jget phase): $(cat "$T/body")"
has "$T/body" "supervisor could not start"
has "$T/body" "gone"

say "the daemon's binary was deleted (an upgrade): the supervisor's exec fails, FAILED at once"
rm -f "$T/spok-copy"
api "$TA" POST /api/v1/sessions '{"name": "s3", "pool": "small"}'
want 503 "create s3 though no supervisor can run"
has "$T/body" "cannot run its supervisor"
grep -q "storage error" "$T/body" && fail "the exec failure answered as a storage error: $(cat "$T/body")"
wait_for 30 phase_is s3 FAILED || fail "s3 still $(jget phase): $(cat "$T/body")"
has "$T/body" "cannot run its supervisor"
stop_daemon

[ "$FAILED" = 0 ] && echo "connect guard: all passed"
exit "$FAILED"
