#!/usr/bin/env bash
# tests/server/serve_local.sh SPOK - the daemon hosting local executions (issue 10,
# spok.server.local-runs), through the real binary, the HTTP API and real Spark (pyspark's
# spark-submit), with one configured cluster that is down (no API server needed):
#   local-runs on: a small PySpark job named `cluster: local` reaches SUCCEEDED and its log is
#   readable through the API; a long one aborted (POST .../abort) ends ABORTED with its process
#   group gone; SIGTERM to the daemon with a run in flight: the run ends ABORTED (no row left
#   RUNNING) and nothing of it runs any more;
#   local-runs off (the default): a local submission is refused with an error naming the key;
#   a bad sparkConf spok.warm/spok.cold is refused (400) as `spok run` refuses it, and so is
#   (with local-runs) a task asking to run warm on a pool the config does not declare (warm
#   runs themselves: tests/connect/serve_warm.sh);
#   a local-runs value that is not a boolean is refused with file:line:col.
set -uo pipefail
SPOK=$1
T=$(mktemp -d /tmp/spok-serve-local-XXXXXX)
export SPOK_DATA_DIR=$T/data
PID=""
FAILED=0
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null && wait "$PID"
	for g in ${PGIDS:-}; do kill -KILL -- "-$g" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { printf 'FAIL: %s\n' "$*" >&2; [ -f "$T/daemon.log" ] && tail -30 "$T/daemon.log" >&2; exit 1; }
say() { printf '=== %s\n' "$*"; }

TOKEN=serve-local-test-token-0b9e3a7c51d4
read -r HASH _ < <(printf '%s' "$TOKEN" | sha256sum)
printf -- '- {name: admin, token-sha256: %s, admin: true}\n' "$HASH" >"$T/tokens.yaml"
. "$(dirname "$0")/../down_kubeconfig.sh"
down_kubeconfig "$T/down.kubeconfig"
config() { # LOCAL-RUNS-LINE (e.g. "local-runs: true", or "")
	cat >"$T/config.yaml" <<C
spok:
  clusters:
  - {name: c1, kubeconfig: '$T/down.kubeconfig', context: down}
  server:
    listen: '127.0.0.1:0'
    tokens-file: tokens.yaml
    $1
C
}
start() {
	: >"$T/out"
	"$SPOK" serve --config "$T/config.yaml" --data-dir "$T/data" >"$T/out" 2>>"$T/daemon.log" &
	PID=$!
	local i line=""
	for ((i = 0; i < 600; i++)); do
		line=$(head -n 1 "$T/out")
		[ -n "$line" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	[[ $line =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]] || { PID=""; die "the daemon did not start: '$line'"; }
	PORT=${BASH_REMATCH[1]}
}
api() { # METHOD PATH [BODY]: CODE and $T/body
	local data=()
	[ $# -ge 3 ] && data=(-H 'Content-Type: application/json' --data-binary "$3")
	CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
		"${data[@]}" "http://127.0.0.1:$PORT$2") || CODE=000
}
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$T/body" "$1"; }
submit() { # NAME SECONDS [SPARKCONF-YAML]: ID
	local job
	job=$(python3 -c 'import json,sys
print(json.dumps({"cluster": "local", "taskYaml":
  "name: %s\nproject: sl\ntype: PYTHON\nmainApplicationFile: %s\nargs: [\"%s\"]\n%s" % tuple(sys.argv[1:5])}))' \
		"$1" "$T/jobs/sleep.py" "$2" "${3:+sparkConf: $3}")
	api POST /api/v1/executions "$job"
	ID=$(jget id)
}
wait_phase() { # ID PHASE... : PHASE (the last seen); waits up to 240 s
	local id=$1 i
	shift
	for ((i = 0; i < 480; i++)); do
		api GET "/api/v1/executions/$id"
		PHASE=$(jget phase)
		for p in "$@"; do [ "$PHASE" = "$p" ] && return 0; done
		sleep 0.5
	done
	return 1
}
pgid_of() { # ID: the process group the host recorded (the CLI's view on this host)
	"$SPOK" status "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("pgid", 0))'
}
. "$(dirname "$0")/../proc.sh" # pgrp_gone: a zombie-only group counts as gone, as spok says

mkdir -p "$T/jobs"
cat >"$T/jobs/sleep.py" <<'EOF'
import sys, time
print("started", flush=True)
for i in range(int(sys.argv[1])):
    print("tick", i, flush=True)
    time.sleep(1)
print("done", flush=True)
EOF

say "local-runs: not a boolean"
config "local-runs: 'yes'"
"$SPOK" serve --check-config --config "$T/config.yaml" >"$T/check.out" 2>"$T/check.err"
rc=$?
[ $rc = 2 ] || fail "check-config with local-runs: 'yes': exit $rc, want 2"
grep -qE "config.yaml:[0-9]+:[0-9]+: spok.server.local-runs" "$T/check.err" ||
	fail "check-config: '$(cat "$T/check.err")' lacks file:line:col and the key"

say "local-runs off: a local submission is refused"
config ""
start
submit off 1
[ "$CODE" = 400 ] || fail "local submission with local-runs off: HTTP $CODE, want 400: $(cat "$T/body")"
grep -q "spok.server.local-runs" "$T/body" || fail "the refusal does not name the key: $(cat "$T/body")"
submit badwarm 1 "{spok.warm: 'no such/pool'}"
[ "$CODE" = 400 ] || fail "sparkConf spok.warm 'no such/pool': HTTP $CODE, want 400: $(cat "$T/body")"
grep -q "sparkConf spok.warm" "$T/body" || fail "the refusal does not name spok.warm: $(cat "$T/body")"
submit badcold 1 "{spok.cold: 'maybe'}"
[ "$CODE" = 400 ] || fail "sparkConf spok.cold 'maybe': HTTP $CODE, want 400: $(cat "$T/body")"
kill -TERM "$PID"; wait "$PID"; PID=""

say "local-runs on: a small job succeeds, its log through the API"
config "local-runs: true"
start
submit ok 2
[ "$CODE" = 201 ] || die "submit: HTTP $CODE: $(cat "$T/body")"
OK=$ID
wait_phase "$OK" SUCCEEDED FAILED PERMANENT_FAILURE RETRYABLE_FAILURE ABORTED TIMED_OUT ||
	fail "$OK: not finished in time (phase $PHASE)"
[ "$PHASE" = SUCCEEDED ] || fail "$OK: phase $PHASE, want SUCCEEDED: $(cat "$T/body")"
[ "$(jget backend)" = local ] || fail "$OK: backend '$(jget backend)', want local"
api GET "/api/v1/executions/$OK/logs"
[ "$CODE" = 200 ] || fail "logs: HTTP $CODE: $(cat "$T/body")"
grep -q "^done" "$T/body" || fail "logs lack the job's output: $(tail -c 400 "$T/body")"

say "local-runs on: a task asking to run warm on a pool the config does not declare is refused"
submit warm 1 "{spok.warm: small}"
[ "$CODE" = 400 ] || fail "submit with spok.warm of an undeclared pool: HTTP $CODE, want 400: $(cat "$T/body")"
grep -q "sparkConf spok.warm (pool small): no such pool in spok.pools" "$T/body" ||
	fail "the refusal does not name the pool: $(cat "$T/body")"

say "local-runs on: POST .../abort stops a run; its process group is gone"
submit long 300
[ "$CODE" = 201 ] || die "submit long: HTTP $CODE: $(cat "$T/body")"
LONG=$ID
wait_phase "$LONG" RUNNING || fail "$LONG: not RUNNING (phase $PHASE)"
PGID=$(pgid_of "$LONG")
PGIDS="$PGID"
[ "${PGID:-0}" -gt 1 ] || fail "$LONG: no process group recorded ('$PGID')"
api POST "/api/v1/executions/$LONG/abort" "{}"
[ "$CODE" = 202 ] || fail "abort: HTTP $CODE: $(cat "$T/body")"
wait_phase "$LONG" ABORTED SUCCEEDED FAILED PERMANENT_FAILURE RETRYABLE_FAILURE TIMED_OUT ||
	fail "$LONG: not finished after the abort (phase $PHASE)"
[ "$PHASE" = ABORTED ] || fail "$LONG: phase $PHASE after the abort, want ABORTED"
[ "${PGID:-0}" -gt 1 ] && ! pgrp_gone "$PGID" && fail "$LONG: process group $PGID still runs"

say "local-runs on: SIGTERM to the daemon ends a run in flight as ABORTED"
submit long2 300
[ "$CODE" = 201 ] || die "submit long2: HTTP $CODE: $(cat "$T/body")"
LONG2=$ID
wait_phase "$LONG2" RUNNING || fail "$LONG2: not RUNNING (phase $PHASE)"
PGID=$(pgid_of "$LONG2")
PGIDS="$PGIDS $PGID"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=""
[ $rc = 0 ] || fail "the daemon exited $rc after SIGTERM"
json=$("$SPOK" status "$LONG2" -o json)
phase=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["phase"])' "$json")
[ "$phase" = ABORTED ] || fail "$LONG2: phase $phase after the daemon's SIGTERM, want ABORTED: $json"
grep -q "daemon received SIGTERM" <<<"$json" || fail "$LONG2: the reason does not name the daemon's SIGTERM: $json"
[ "${PGID:-0}" -gt 1 ] && ! pgrp_gone "$PGID" && fail "$LONG2: process group $PGID still runs"
grep -q "Sanitizer" "$T/daemon.log" && fail "sanitizer report: $(grep -m1 Sanitizer "$T/daemon.log")"

exit $FAILED
