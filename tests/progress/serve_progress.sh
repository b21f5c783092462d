#!/usr/bin/env bash
# serve_progress.sh SPOK - the daemon's `progress` of a running execution (labels `progress`,
# `spark`): `spok serve` with spok.server.local-runs runs tests/progress/stages.py; GET
# /api/v1/executions/{id} answers a `progress` object while it runs (null until the first ask
# has read something), whose numbers reach the totals the job read from its own REST API;
# once finished, the answer has no `progress` key.
set -uo pipefail
SPOK=$1
SRC=${SPOK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/spok-serve-progress-XXXXXX)
export SPOK_DATA_DIR=$T/data
PID=""
FAILED=0
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID"
	rm -rf "$T"
}
trap cleanup EXIT
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { fail "$*"; [ -f "$T/daemon.log" ] && tail -30 "$T/daemon.log" >&2; exit 1; }
say() { printf '=== %s\n' "$*"; }

TOKEN=serve-progress-test-token-5c1e9a0b27f3
read -r HASH _ < <(printf '%s' "$TOKEN" | sha256sum)
printf -- '- {name: admin, token-sha256: %s, admin: true}\n' "$HASH" >"$T/tokens.yaml"
. "$(dirname "$0")/../down_kubeconfig.sh"
down_kubeconfig "$T/down.kubeconfig"
cat >"$T/config.yaml" <<C
spok:
  clusters:
  - {name: c1, kubeconfig: '$T/down.kubeconfig', context: down}
  server:
    listen: '127.0.0.1:0'
    tokens-file: tokens.yaml
    local-runs: true
C
mkdir -p "$T/jobs"
cp "$SRC/tests/progress/stages.py" "$T/jobs/"

"$SPOK" serve --config "$T/config.yaml" --data-dir "$T/data" >"$T/out" 2>>"$T/daemon.log" &
PID=$!
for ((i = 0; i < 600; i++)); do
	line=$(head -n 1 "$T/out")
	[ -n "$line" ] && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
[[ $line =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]] || { PID=""; die "the daemon did not start: '$line'"; }
PORT=${BASH_REMATCH[1]}
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
print("null" if v is None else v)' "$T/body" "$1"; }
total() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/totals.json" "$1"; }

say "a running local execution's progress through the API"
job=$(python3 -c 'import json,sys
print(json.dumps({"cluster": "local", "taskYaml":
  "name: stages\nproject: sp\ntype: PYTHON\nmainApplicationFile: %s\nargs: [\"%s\", \"%s\", \"ok\"]\n" % tuple(sys.argv[1:4])}))' \
	"$T/jobs/stages.py" "$T/release" "$T/totals.json")
api POST /api/v1/executions "$job"
[ "$CODE" = 201 ] || die "submit: HTTP $CODE $(cat "$T/body")"
ID=$(jget id)
seen_running=0 seen_progress=0 reached=0
for ((i = 0; i < 1500; i++)); do # bounded: 5 min at 0.2 s
	api GET "/api/v1/executions/$ID"
	phase=$(jget phase)
	if [ "$phase" = RUNNING ]; then
		seen_running=1
		python3 -c 'import json,sys; sys.exit(0 if "progress" in json.load(open(sys.argv[1])) else 1)' "$T/body" ||
			fail "a RUNNING execution's answer has no progress key"
		[ "$(jget progress.tasks_total)" != null ] && [ -n "$(jget progress.tasks_total)" ] && seen_progress=1
		if [ -s "$T/totals.json" ] && [ "$(jget progress.tasks_done)" = "$(total tasks_done)" ] &&
			[ "$(jget progress.tasks_total)" = "$(total tasks_total)" ]; then
			reached=1
			[ "$(jget progress.app_id)" != null ] || fail "no app_id in $(cat "$T/body")"
			break
		fi
	fi
	case $phase in SUCCEEDED | *FAILURE | ABORTED | TIMED_OUT) break ;; esac
	sleep 0.2
done
[ $seen_running = 1 ] || fail "never saw the execution RUNNING (last: $(cat "$T/body"))"
[ $seen_progress = 1 ] || fail "never saw progress numbers (last: $(cat "$T/body"))"
[ $reached = 1 ] || fail "progress never reached the job's totals $(cat "$T/totals.json" 2>/dev/null): $(cat "$T/body")"
touch "$T/release"
for ((i = 0; i < 600; i++)); do
	api GET "/api/v1/executions/$ID"
	[ "$(jget phase)" = SUCCEEDED ] && break
	sleep 0.2
done
[ "$(jget phase)" = SUCCEEDED ] || fail "the execution did not succeed: $(cat "$T/body")"
python3 -c 'import json,sys; sys.exit(1 if "progress" in json.load(open(sys.argv[1])) else 0)' "$T/body" ||
	fail "a finished execution's answer still has a progress key"
kill -TERM "$PID" && wait "$PID" || fail "the daemon did not stop cleanly ($?)"
PID=""
[ $FAILED = 0 ] && echo "serve_progress: all checks passed"
exit $FAILED
