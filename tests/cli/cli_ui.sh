#!/usr/bin/env bash
# tests/cli/cli_ui.sh SPOK SRC - `spok ui ID` against the real API server (fixture `k8s`; no
# kubelet, no operator: this script patches the SparkApplication's status as the operator
# would). Every way the UI cannot be reached is one line on stderr with its exit code:
# not submitted / SUBMITTED (4), the UI Service missing (4), the Service without endpoints
# (the API server's service proxy answers "no endpoints": 3), no Service at all (the driver
# pod's proxy instead), hostile Service or pod names in the status (3), a finished cluster or
# local run (4). The page itself is opened on a real node
# (tests/node/ui.sh).
set -u
SPOK=$1
SRC=$2
[ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ] || { echo "SPOK_K8S_ENV not set: run under the k8s fixture" >&2; exit 1; }
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$SPOK_K8S_ENV"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export SPOK_DATA_DIR="$T/data" XDG_CONFIG_HOME="$T/config" HOME="$T"
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }

NS="cli-ui-$$-$RANDOM"
API="$SPOK_TEST_APISERVER"
kcurl() { # kcurl METHOD PATH [JSON [CONTENT-TYPE]]
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: ${4:-application/json}" --data "$3")
	curl -sS --fail-with-body --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
		--key "$SPOK_TEST_ADMIN_KEY" -X "$1" "${body[@]}" "$API$2" >"$T/kcurl.out" 2>&1 ||
		{ cat "$T/kcurl.out" >&2; return 1; }
}
# ui_fails RC PATTERN WHAT [LINES]: `spok ui ID` exits RC with LINES (1) stderr lines, the last
# matching PATTERN.
ui_fails() {
	local rc last
	timeout 60 "$SPOK" ui "$ID" --port 0 ${UI_FLAGS:-} >"$T/ui.out" 2>"$T/ui.err"
	rc=$?
	[ "$rc" = "$1" ] || fail "$3: exit $rc, want $1: $(cat "$T/ui.err")"
	[ "$(wc -l <"$T/ui.err")" = "${4:-1}" ] || fail "$3: want ${4:-1} stderr line(s): $(cat "$T/ui.err")"
	last=$(tail -n 1 "$T/ui.err")
	grep -q -- "$2" <<<"$last" || fail "$3: stderr does not match '$2': $(cat "$T/ui.err")"
	[ -s "$T/ui.out" ] && fail "$3: printed on stdout: $(cat "$T/ui.out")"
	echo "ok - $3: $(tr '\n' ' ' <"$T/ui.err")"
}

kcurl POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" ||
	{ echo "cannot create namespace $NS" >&2; exit 1; }
"$SPOK" run "$SRC/examples/pi/pi.yaml" --cluster admin -n "$NS" -d -q >"$T/run.out" 2>"$T/run.err" ||
	{ cat "$T/run.err" >&2; echo "spok run -d failed" >&2; exit 1; }
ID=$(cat "$T/run.out")
APP=$("$SPOK" status "$ID" -o json --no-refresh | python3 -c 'import json,sys; print(json.load(sys.stdin)["resource_name"])')
[ -n "$APP" ] || { echo "no resource_name for $ID" >&2; exit 1; }
APPS="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
status() { kcurl PATCH "$APPS/$APP/status" "{\"status\":$1}" application/merge-patch+json || fail "patch status $1"; }

ui_fails 4 "the Spark UI is not up yet: the SparkApplication is not yet submitted" "not submitted"
status '{"applicationState":{"state":"SUBMITTED"},"driverInfo":{"podName":"'"$APP"'-driver"}}'
ui_fails 4 "the Spark UI is not up yet: the SparkApplication is SUBMITTED" "SUBMITTED"
status '{"applicationState":{"state":"RUNNING"},"driverInfo":{"webUIServiceName":"'"$APP"'-ui-svc","webUIPort":4040}}'
ui_fails 4 "the Spark UI Service $NS/$APP-ui-svc does not exist" "no UI Service"
# The Service the operator would create; nothing runs its pods here, so it has no endpoints.
kcurl POST "/api/v1/namespaces/$NS/services" '{"apiVersion":"v1","kind":"Service","metadata":{"name":"'"$APP"'-ui-svc"},"spec":{"selector":{"spark-role":"driver","sparkoperator.k8s.io/app-name":"'"$APP"'"},"ports":[{"name":"spark-driver-ui-port","port":4040,"targetPort":4040}]}}' ||
	fail "create the UI Service"
ui_fails 3 "the Spark UI Service $NS/$APP-ui-svc does not answer yet (is the driver running?" "Service without endpoints"
UI_FLAGS=--pod ui_fails 3 "the driver pod $NS/$APP-driver does not answer yet" "--pod: the driver pod" 2
# An operator started with --enable-ui-service=false names no Service: the driver pod's own
# proxy is used, said on stderr (no such pod here: it does not answer).
kcurl DELETE "/api/v1/namespaces/$NS/services/$APP-ui-svc" || fail "delete the UI Service"
status '{"driverInfo":{"webUIServiceName":null,"webUIPort":null,"podName":"'"$APP"'-driver"}}'
ui_fails 3 "the driver pod $NS/$APP-driver does not answer yet" "no UI Service: the driver pod" 2
grep -q "^spok: no Spark UI Service (the operator runs with --enable-ui-service=false): through the driver pod $NS/$APP-driver$" "$T/ui.err" ||
	fail "no note about the driver pod: $(cat "$T/ui.err")"
status '{"driverInfo":{"webUIServiceName":"x/../../../secrets"}}'
ui_fails 3 "webUIServiceName is not a DNS label" "hostile Service name"
status '{"driverInfo":{"webUIServiceName":null,"podName":"a.b/../../../nodes"}}'
ui_fails 3 "podName is not a DNS label" "hostile pod name"
status '{"applicationState":{"state":"COMPLETED"}}'
ui_fails 4 "SparkApplication is COMPLETED: its Spark UI stopped with the driver" "COMPLETED"
kcurl DELETE "$APPS/$APP" || fail "delete the SparkApplication"
ui_fails 4 "its SparkApplication $NS/$APP is not on cluster admin" "SparkApplication deleted"

# Local runs: a finished one has no UI; one whose supervisor is gone neither.
DB="$SPOK_DATA_DIR/spok.db"
sqlite3 "$DB" "CREATE TEMP TABLE t AS SELECT * FROM executions WHERE id='$ID';
  UPDATE t SET id='sp-localdone1', backend='local', phase='SUCCEEDED', ui_url='http://127.0.0.1:4041';
  INSERT INTO executions SELECT * FROM t;
  UPDATE t SET id='sp-localgone1', phase='RUNNING', supervisor_pid=0;
  INSERT INTO executions SELECT * FROM t;" || fail "insert local rows"
ID=sp-localdone1; ui_fails 4 "ran locally and has finished (SUCCEEDED)" "finished local run"
ID=sp-localgone1; ui_fails 4 "the spok process supervising it is gone" "local run without supervisor"
ID=sp-nosuch01; ui_fails 4 "execution sp-nosuch01: not found" "unknown id"
"$SPOK" ui >/dev/null 2>"$T/usage.err"; rc=$?
[ $rc = 2 ] || fail "no ID: exit $rc, want 2"
"$SPOK" ui "$ID" --address 'not-an-ip' >/dev/null 2>"$T/addr.err"; rc=$?
[ $rc != 0 ] || fail "--address not-an-ip: exit 0"

kcurl DELETE "/api/v1/namespaces/$NS" >/dev/null || true
[ "$FAILED" = 0 ] && echo "cli_ui: ok"
exit "$FAILED"
