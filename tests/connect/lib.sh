# lib.sh - shared by the connect tests: a throw-away data dir, helpers, and a cleanup that
# stops only the sessions and runs this test started (in its own data dir).
SPOK=$1
SRC=${SPOK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
VENV=${SPOK_VENV:-$SRC/.cache/venv}
PY=$VENV/bin/python
T=$(mktemp -d /tmp/spok-connect-XXXXXX)
export SPOK_DATA_DIR=$T/data
FAILED=0

cleanup() {
	for id in $("$SPOK" list 2>/dev/null | awk 'NR>1 && $3=="RUNNING" {print $1}'); do
		"$SPOK" abort "$id" --grace 1s >/dev/null 2>&1
	done
	for s in $("$SPOK" session list 2>/dev/null | awk 'NR>1 && $3!="STOPPED" && $3!="FAILED" {print $1}'); do
		"$SPOK" session stop "$s" >/dev/null 2>&1
	done
	rm -rf "$T"
}
trap cleanup EXIT

say() { printf '=== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
# skip_unless_ready: the venv's pyspark 4 (its jars hold the Spark Connect server) and
# pyarrow (scripts/setup python) are needed.
skip_unless_ready() {
	if ! compgen -G "$VENV/lib/python3*/site-packages/pyspark/jars/spark-connect_*.jar" >/dev/null ||
		! "$PY" -c 'import pyarrow' 2>/dev/null; then
		echo "SKIP: run scripts/setup python (pyspark 4 with its Spark Connect server, pyarrow)"
		exit 77
	fi
}
# expect_rc WANT CMD...: runs CMD with output to $T/out and $T/err.
expect_rc() {
	local want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$* exited $rc, want $want"
		sed 's/^/  | /' "$T/err" | tail -20 >&2
	fi
}
has() { grep -q -- "$2" "$1" || { fail "$1 lacks '$2'"; sed 's/^/  | /' "$1" | tail -10 >&2; }; }
# sget NAME KEY: a field of `spok session list -o json` for session NAME (null as "null").
sget() {
	"$SPOK" session list -o json | "$PY" -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == sys.argv[1]:
        v = s.get(sys.argv[2])
        print("null" if v is None else v)' "$1" "$2"
}
# xget ID KEY: a field of `spok status ID -o json` (null as "null").
xget() {
	"$SPOK" status "$1" -o json | "$PY" -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("null" if v is None else v)' "$2"
}
# wait_for SECONDS CMD...: until CMD succeeds (bounded; not a timing assertion).
wait_for() {
	local n=$(($1 * 5))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
# A zombie runs nothing (tests/proc.sh): only a live process counts.
. "$(dirname "${BASH_SOURCE[0]}")/../proc.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../down_kubeconfig.sh"
alive() { proc_running "$1"; }
# ---- spok serve (serve.sh, serve_warm.sh, guard.sh) ----
# serve_fixture TA TB: tokens TA (alice, project pa) and TB (bob, project pb) in
# $T/tokens.yaml, a kubeconfig of a cluster that is down (the daemon needs a cluster, not an
# API server) in $T/down.kubeconfig, and stop_daemon (also on exit)
serve_fixture() {
	local ha hb
	read -r ha _ < <(printf '%s' "$1" | sha256sum)
	read -r hb _ < <(printf '%s' "$2" | sha256sum)
	printf -- '- {name: alice, token-sha256: %s, projects: [pa]}\n- {name: bob, token-sha256: %s, projects: [pb]}\n' \
		"$ha" "$hb" >"$T/tokens.yaml"
	down_kubeconfig "$T/down.kubeconfig"
	PID=""
	trap 'stop_daemon; cleanup' EXIT
}
stop_daemon() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID"; PID=""; }
# serve_config LOCAL-RUNS-LINE [MORE]: $T/config.yaml for serve_fixture's daemon: the down
# cluster, the tokens, pool small (local[1]), then MORE (lines under spok:)
serve_config() {
	cat >"$T/config.yaml" <<C
spok:
  clusters:
  - {name: c1, kubeconfig: '$T/down.kubeconfig', context: down}
  server:
    listen: '127.0.0.1:0'
    tokens-file: tokens.yaml
    $1
  pools:
    - name: small
      master: local[1]
      idle-timeout: 10m
${2:-}
C
}
# serve_start BIN: BIN serve with $T/config.yaml and $T/data in the background (PID); PORT
# from its first line
serve_start() {
	: >"$T/dout"
	"$1" serve --config "$T/config.yaml" --data-dir "$T/data" >"$T/dout" 2>>"$T/daemon.log" &
	PID=$!
	local line=""
	for _ in $(seq 600); do
		line=$(head -n 1 "$T/dout")
		[ -n "$line" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	[[ $line =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]] || { fail "the daemon did not start: '$line'"; tail -20 "$T/daemon.log" >&2; exit 1; }
	PORT=${BASH_REMATCH[1]}
}
api() { # TOKEN METHOD PATH [BODY]: CODE and $T/body
	local tok=$1 data=()
	shift
	[ $# -ge 3 ] && data=(-H 'Content-Type: application/json' --data-binary "$3")
	CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $tok" \
		"${data[@]}" "http://127.0.0.1:$PORT$2") || CODE=000
}
jget() { "$PY" -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = (v[int(k)] if int(k) < len(v) else None) if isinstance(v, list) else v.get(k) if isinstance(v, dict) else None
print("null" if v is None else v)' "$T/body" "$1"; }
want() { [ "$CODE" = "$1" ] || { fail "$2: HTTP $CODE, want $1: $(head -c 300 "$T/body")"; }; }
