#!/usr/bin/env bash
# tests/server/stored_task.sh SPOK - a daemon whose store holds a task it cannot load again
# (issue 8): the stored text of a submitted job is replaced by the 6-byte YAML that crashed
# libfyaml. `spok serve` must still start and serve; with the real API server (fixture
# `k8s`, SPOK_K8S_ENV) the execution must end PERMANENT_FAILURE with the reason, while the
# daemon keeps accepting work. Without SPOK_K8S_ENV only the first part runs.
set -u
SPOK=$1
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID"; rm -rf "$T"; }
trap cleanup EXIT
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { printf 'FAIL: %s\n' "$*" >&2; [ -f "$T/daemon.log" ] && tail -20 "$T/daemon.log" >&2; exit 1; }
if [ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ]; then
	while IFS='=' read -r k v; do
		[ -n "$k" ] && export "$k=$v"
	done <"$SPOK_K8S_ENV"
fi

TOKEN=stored-task-test-token-4f1c9a0e77d2
read -r HASH _ < <(printf '%s' "$TOKEN" | sha256sum)
printf -- '- {name: admin, token-sha256: %s, admin: true}\n' "$HASH" >"$T/tokens.yaml"
. "$(dirname "$0")/../down_kubeconfig.sh"
down_kubeconfig "$T/down.kubeconfig"
config() { # KUBECONFIG-PATH CONTEXT
	cat >"$T/config.yaml" <<C
spok:
  default-image: spark:4.0.5
  clusters:
  - {name: c1, kubeconfig: '$1', context: $2}
  server: {listen: '127.0.0.1:0', tokens-file: tokens.yaml}
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
stop() {
	kill -TERM "$PID"
	wait "$PID"
	PID=""
}
# api METHOD PATH [BODY]: sets CODE; the body is in $T/body.
api() {
	local data=()
	[ $# -ge 3 ] && data=(-H 'Content-Type: application/json' --data-binary "$3")
	CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
		"${data[@]}" "http://127.0.0.1:$PORT$2") || CODE=000
}
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
print(v.get(sys.argv[2], ""))' "$T/body" "$1"; }

PROJECT="st$$"
JOB=$(python3 -c 'import json,sys; print(json.dumps({"taskYaml": "name: st\nproject: " + sys.argv[1] + "\nmainApplicationFile: local:///opt/x.py\n", "cluster": "c1"}))' "$PROJECT")

# 1. A submission to a cluster that is down is stored and waits.
config "$T/down.kubeconfig" down
start
api POST /api/v1/executions "$JOB"
[ "$CODE" = 201 ] || die "submit: HTTP $CODE: $(cat "$T/body")"
ID=$(jget id)
stop
# 2. Its stored task text is replaced by the crash input.
n=0
for f in "$T"/data/server/tasks/*.yaml; do
	printf '? ::\t:' >"$f"
	n=$((n + 1))
done
[ $n = 1 ] || die "want one stored task file, found $n"
# 3. The daemon starts, serves, and says why the task is not loaded.
start
api GET /healthz
[ "$CODE" = 200 ] || fail "healthz after restart: HTTP $CODE"
api GET "/api/v1/executions/$ID"
[ "$CODE" = 200 ] || fail "GET the execution after restart: HTTP $CODE"
grep -q "$ID: cannot reload the task: .*mapping values are not allowed" "$T/daemon.log" ||
	fail "daemon log does not say why the task was not reloaded"

# 4. On a reachable cluster the execution fails with the reason; others still run.
if [ -n "${KUBECONFIG:-}" ]; then
	stop
	config "$KUBECONFIG" admin
	start
	phase=""
	for ((i = 0; i < 600; i++)); do
		api GET "/api/v1/executions/$ID"
		phase=$(jget phase)
		[ "$phase" = PERMANENT_FAILURE ] && break
		sleep 0.2
	done
	[ "$phase" = PERMANENT_FAILURE ] || fail "execution $ID: phase '$phase', want PERMANENT_FAILURE"
	grep -q 'the task could not be loaded again' "$T/body" || fail "no reason in $(cat "$T/body")"
	# The reason says why (the parser's own error), naming the stored file by its base name:
	# the daemon host's paths stay off the API.
	grep -q 'loaded again (r-[0-9a-z]*\.yaml:.*mapping values are not allowed' "$T/body" ||
		fail "the reason does not carry the load error: $(cat "$T/body")"
	grep -q "$T" "$T/body" && fail "the reason shows a host path: $(cat "$T/body")"
	api POST /api/v1/executions "$JOB"
	[ "$CODE" = 201 ] || fail "submit after the failed adoption: HTTP $CODE: $(cat "$T/body")"
fi

if [ $FAILED = 0 ]; then echo "stored_task: all passed"; else echo "stored_task: FAILED"; exit 1; fi
