#!/usr/bin/env bash
# tests/engine/store_fail.sh SPOK - a store that refuses a write-ahead row, against the real
# API server (fixture `k8s`; this script plays the operator through /status). A SQLite
# trigger RAISEs where the row must be written before a create:
#  1. the new execution's row (INSERT): `spok run --cluster` exits non-zero with one line
#     and no SparkApplication exists;
#  2. the next attempt's row (UPDATE to attempt 1, after attempt 0 FAILED): the run stops
#     with one line and a non-zero exit, and attempt 1's SparkApplication is never created.
# Then, the store writable again, `spok reconcile` continues from the row: attempt 1.
set -euo pipefail
SPOK=$1
[ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ] || { echo "SPOK_K8S_ENV not set: run under the k8s fixture" >&2; exit 1; }
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$SPOK_K8S_ENV"
T=$(mktemp -d)
RUN= REC=
NS="storefail-$$-$RANDOM"
API="$SPOK_TEST_APISERVER"
APPS="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
GUARD=600 # x 0.1 s: turns a hang into a failure, asserts nothing about time
export SPOK_DATA_DIR="$T/data" XDG_CONFIG_HOME="$T/config" HOME="$T"
DB="$SPOK_DATA_DIR/spok.db"

kcurl() { # kcurl METHOD PATH [JSON [CONTENT-TYPE]] -> $T/k.out, prints the HTTP status
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: ${4:-application/json}" --data "$3")
	curl -sS --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" --key "$SPOK_TEST_ADMIN_KEY" \
		-o "$T/k.out" -w '%{http_code}' -X "$1" "${body[@]}" "$API$2"
}
cleanup() {
	local rc=$?
	for p in $RUN $REC; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	kcurl DELETE "/api/v1/namespaces/$NS" >/dev/null 2>&1 || true
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
die() { printf 'FAIL: %s\n' "$*" >&2; for f in "$T"/*.err; do [ -f "$f" ] && tail -n 5 "$f" >&2; done; exit 1; }
waitfor() { # waitfor WHAT CMD...: polls CMD until it succeeds (bounded)
	local what=$1 i
	shift
	for ((i = 0; i < GUARD; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	die "gave up waiting for $what"
}
# app_names: the SparkApplications in $NS, one name a line
app_names() {
	local code
	code=$(kcurl GET "$APPS")
	[ "$code" = 200 ] || die "list $APPS: HTTP $code: $(cat "$T/k.out")"
	python3 -c 'import json,sys
for i in json.load(open(sys.argv[1]))["items"]: print(i["metadata"]["name"])' "$T/k.out"
}
has_app() { [ "$(kcurl GET "$APPS/$1")" = 200 ]; }
sq() { sqlite3 -cmd ".timeout 10000" "$DB" "$@"; }
# started N: the row's attempt N is confirmed (its object exists)
started() { [ "$(sq "SELECT count(*) FROM executions WHERE attempt = $1 AND started_ms != 0;")" = 1 ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# one_error FILE: the last line is the only one that says the store refused
one_error() {
	local n last
	n=$(grep -c "cannot record" "$1" || true)
	last=$(tail -n 1 "$1")
	[ "$n" = 1 ] || die "want exactly one 'cannot record' line, got $n: $(cat "$1")"
	case "$last" in "spok: "*"cannot record"*"disk full (test)"*) ;;
		*) die "last line is not the store error: $last" ;; esac
}

[ "$(kcurl POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}")" = 201 ] ||
	die "cannot create namespace $NS: $(cat "$T/k.out")"
cat >"$T/job.yaml" <<EOF
name: storefail
type: PYTHON
mainApplicationFile: local:///opt/spark/examples/src/main/python/pi.py
image: apache/spark:4.0.5
retries: 1
EOF
"$SPOK" list >/dev/null # creates the store

# 1. The new execution's write-ahead row is refused: nothing is created.
sq "CREATE TRIGGER no_insert BEFORE INSERT ON executions BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;"
rc=0
"$SPOK" run "$T/job.yaml" --cluster admin -n "$NS" -q >"$T/run1.out" 2>"$T/run1.err" || rc=$?
[ "$rc" != 0 ] || die "spok run succeeded with a store that refuses the row"
[ "$(wc -l <"$T/run1.err")" = 1 ] || die "want one line on stderr: $(cat "$T/run1.err")"
one_error "$T/run1.err"
[ -z "$(app_names)" ] || die "a SparkApplication was created without its row: $(app_names)"
sq "DROP TRIGGER no_insert;"

# 2. Attempt 0 runs and FAILS; attempt 1's write-ahead row is refused.
sq "CREATE TRIGGER no_next BEFORE UPDATE ON executions WHEN NEW.attempt > 0 BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;"
"$SPOK" run "$T/job.yaml" --cluster admin -n "$NS" -q >"$T/run2.out" 2>"$T/run2.err" &
RUN=$!
waitfor "attempt 0's SparkApplication" started 0
ID=$(sq "SELECT id FROM executions;")
APP0=$(sq "SELECT resource_name FROM executions WHERE id = '$ID';")
has_app "$APP0" || die "no SparkApplication $APP0"
[ "$(kcurl PATCH "$APPS/$APP0/status" '{"status":{"applicationState":{"state":"FAILED","errorMessage":"boom"},"terminationTime":"2024-01-01T00:00:00Z"}}' application/merge-patch+json)" = 200 ] ||
	die "patch status FAILED: $(cat "$T/k.out")"
waitfor "spok run to stop" gone "$RUN"
rc=0
wait "$RUN" || rc=$?
RUN=
[ "$rc" != 0 ] || die "spok run exited 0 after the store refused attempt 1's row"
one_error "$T/run2.err"
[ "$(app_names)" = "$APP0" ] || die "want only attempt 0's $APP0, got: $(app_names)"
[ "$(sq "SELECT attempt || ' ' || phase FROM executions WHERE id = '$ID';")" = "0 RETRYABLE_FAILURE" ] ||
	die "row: $(sq "SELECT attempt, phase FROM executions WHERE id = '$ID';")"

# 3. The store writable again: `spok reconcile` takes the row over and starts attempt 1.
sq "DROP TRIGGER no_next;"
"$SPOK" reconcile --cluster admin -q >"$T/rec.out" 2>"$T/rec.err" &
REC=$!
waitfor "attempt 1's SparkApplication" started 1
APP1=$(sq "SELECT resource_name FROM executions WHERE id = '$ID';")
has_app "$APP1" || die "no SparkApplication $APP1"
[ "$(kcurl PATCH "$APPS/$APP1/status" '{"status":{"applicationState":{"state":"COMPLETED"},"terminationTime":"2024-01-01T00:00:00Z"}}' application/merge-patch+json)" = 200 ] ||
	die "patch status COMPLETED: $(cat "$T/k.out")"
waitfor "spok reconcile to end" gone "$REC"
wait "$REC" || die "spok reconcile failed: $(cat "$T/rec.err")"
REC=
[ "$(sq "SELECT attempt || ' ' || phase FROM executions WHERE id = '$ID';")" = "1 SUCCEEDED" ] ||
	die "after reconcile: $(sq "SELECT attempt, phase FROM executions WHERE id = '$ID';")"
echo "store_fail: all passed"
