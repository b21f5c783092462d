#!/usr/bin/env bash
# tests/cli/cli_cluster.sh SPOK SRC - `spok status` of a cluster execution nobody supervises,
# against the real API server (fixture `k8s`; nothing plays the operator but this script):
# `spok run --cluster admin -d`, then /status patched with curl as the operator would.
# status reads the SparkApplication live without writing the store; --no-refresh, an
# unreachable cluster and a deleted object keep the stored state with one warning line;
# `spok reconcile` then records the phase.
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

NS="cli-live-$$-$RANDOM"
API="$SPOK_TEST_APISERVER"
kcurl() { # kcurl METHOD PATH [JSON [CONTENT-TYPE]]
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: ${4:-application/json}" --data "$3")
	curl -sS --fail-with-body --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
		--key "$SPOK_TEST_ADMIN_KEY" -X "$1" "${body[@]}" "$API$2" >"$T/kcurl.out" 2>&1 ||
		{ cat "$T/kcurl.out" >&2; return 1; }
}
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v.get(k) if isinstance(v, dict) else None
print("" if v is None else (str(v).lower() if isinstance(v, bool) else v))' "$@"; }

kcurl POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" ||
	{ echo "cannot create namespace $NS" >&2; exit 1; }

"$SPOK" run "$SRC/examples/pi/pi.yaml" --cluster admin -n "$NS" -d -q >"$T/run.out" 2>"$T/run.err" ||
	{ cat "$T/run.err" >&2; echo "spok run -d failed" >&2; exit 1; }
ID=$(cat "$T/run.out")
case "$ID" in sp-*) ;; *) echo "spok run -d printed '$ID', want an execution id" >&2; exit 1 ;; esac
"$SPOK" status "$ID" -o json >"$T/s0.json" || fail "status -o json failed"
APP=$(jget "$T/s0.json" resource_name)
STORED=$(jget "$T/s0.json" phase)
[ -n "$APP" ] || { echo "no resource_name in $(cat "$T/s0.json")" >&2; exit 1; }
[ "$(jget "$T/s0.json" live.found)" = true ] || fail "live read before any status: $(cat "$T/s0.json")"
APPS="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"

# The operator reports RUNNING; nobody supervises the run, so the store still says $STORED.
kcurl PATCH "$APPS/$APP/status" '{"status":{"applicationState":{"state":"RUNNING"},"sparkApplicationId":"spark-live-1","driverInfo":{"podName":"drv-live","webUIAddress":"10.1.2.3:4040"}}}' \
	application/merge-patch+json || fail "patch status RUNNING"
"$SPOK" status "$ID" >"$T/s1" 2>"$T/s1.err" || fail "status: exit $?: $(cat "$T/s1.err")"
grep -qx "Phase:      RUNNING (live from the cluster; not yet recorded - run 'spok reconcile' to follow it)" "$T/s1" ||
	fail "status does not show the live RUNNING: $(cat "$T/s1")"
grep -qx "Recorded:   $STORED" "$T/s1" || fail "status does not show the recorded $STORED: $(cat "$T/s1")"
grep -qx "Spark app:  spark-live-1" "$T/s1" || fail "status does not show the live app id: $(cat "$T/s1")"
grep -q "^Links: (live)" "$T/s1" || fail "status shows no live links: $(cat "$T/s1")"
[ -s "$T/s1.err" ] && fail "status wrote to stderr: $(cat "$T/s1.err")"

"$SPOK" status "$ID" -o json >"$T/s2.json" || fail "status -o json failed"
[ "$(jget "$T/s2.json" phase)" = "$STORED" ] || fail "-o json: stored phase changed: $(cat "$T/s2.json")"
[ "$(jget "$T/s2.json" live.phase)" = RUNNING ] || fail "-o json: live.phase: $(cat "$T/s2.json")"
[ "$(jget "$T/s2.json" live.recorded)" = false ] || fail "-o json: live.recorded: $(cat "$T/s2.json")"
[ "$(jget "$T/s2.json" live.spark_app_id)" = spark-live-1 ] || fail "-o json: live.spark_app_id"
"$SPOK" status "$ID" -o yaml >"$T/s2.yaml" || fail "status -o yaml failed"
grep -q "^live:" "$T/s2.yaml" || fail "-o yaml: no live object: $(cat "$T/s2.yaml")"

# Nothing was written: --no-refresh (the store alone) still says $STORED.
"$SPOK" status "$ID" --no-refresh >"$T/s3" || fail "status --no-refresh failed"
grep -qx "Phase:      $STORED" "$T/s3" || fail "--no-refresh: $(cat "$T/s3")"
grep -q "(live" "$T/s3" && fail "--no-refresh mentions a live read: $(cat "$T/s3")"
"$SPOK" status "$ID" --no-refresh -o json >"$T/s3.json" || fail "status --no-refresh -o json failed"
[ -z "$(jget "$T/s3.json" live)" ] || fail "--no-refresh -o json has a live object"

# The cluster cannot be reached: the stored state plus one warning line, exit 0.
sed "s#$API#https://127.0.0.1:1#" "$KUBECONFIG" >"$T/down.kubeconfig"
"$SPOK" status "$ID" --kubeconfig "$T/down.kubeconfig" >"$T/s4" 2>"$T/s4.err" || fail "status, cluster down: exit $?"
grep -qx "Phase:      $STORED" "$T/s4" || fail "cluster down: phase: $(cat "$T/s4")"
[ "$(grep -c '^Warning:' "$T/s4")" = 1 ] || fail "cluster down: want one warning line: $(cat "$T/s4")"
grep -q "^Warning:    cannot read the SparkApplication from cluster admin: .*; showing the stored state$" "$T/s4" ||
	fail "cluster down: warning: $(cat "$T/s4")"
"$SPOK" status "$ID" --kubeconfig "$T/down.kubeconfig" -o json >"$T/s4.json" || fail "cluster down: -o json"
[ -n "$(jget "$T/s4.json" live.error)" ] || fail "cluster down: -o json has no live.error: $(cat "$T/s4.json")"

# The operator finishes it: shown live; `spok reconcile` records it (and deletes the object).
kcurl PATCH "$APPS/$APP/status" '{"status":{"applicationState":{"state":"COMPLETED"},"terminationTime":"2024-01-01T00:00:00Z"}}' \
	application/merge-patch+json || fail "patch status COMPLETED"
"$SPOK" status "$ID" >"$T/s5" || fail "status after COMPLETED"
grep -qx "Phase:      SUCCEEDED (live from the cluster; not yet recorded - run 'spok reconcile' to follow it)" "$T/s5" ||
	fail "status does not show the live SUCCEEDED: $(cat "$T/s5")"
"$SPOK" reconcile --cluster admin -q >"$T/rec" 2>&1 || fail "reconcile: $(cat "$T/rec")"
"$SPOK" status "$ID" >"$T/s6" || fail "status after reconcile"
grep -qx "Phase:      SUCCEEDED" "$T/s6" || fail "after reconcile: $(cat "$T/s6")"
grep -q "(live" "$T/s6" && fail "a finished execution is read live: $(cat "$T/s6")"

# A second run whose SparkApplication is deleted behind spok's back: one warning line.
"$SPOK" run "$SRC/examples/pi/pi.yaml" --cluster admin -n "$NS" -d -q >"$T/run2.out" 2>"$T/run2.err" ||
	{ cat "$T/run2.err" >&2; fail "second spok run -d failed"; }
ID2=$(cat "$T/run2.out")
"$SPOK" status "$ID2" -o json >"$T/t0.json" || fail "status of $ID2"
APP2=$(jget "$T/t0.json" resource_name)
kcurl DELETE "$APPS/$APP2" || fail "delete $APP2"
"$SPOK" status "$ID2" >"$T/t1" || fail "status after delete"
grep -qx "Warning:    cluster admin has no SparkApplication $NS/$APP2 (not created yet, or deleted); 'spok reconcile' records what happened" "$T/t1" ||
	fail "deleted object: $(cat "$T/t1")"
[ "$(jget "$T/t0.json" phase)" = "$(grep '^Phase:' "$T/t1" | awk '{print $2}')" ] || fail "deleted object: phase changed"

# A foreground run stopped by SIGTERM stops following and says so; the SparkApplication stays
# (nobody plays the operator here, so the run would otherwise wait forever).
"$SPOK" run "$SRC/examples/pi/pi.yaml" --cluster admin -n "$NS" >"$T/run3.out" 2>"$T/run3.err" &
RUNPID=$!
ID3=""
for _ in $(seq 1 100); do
	ID3=$(sed -n 's/^spok: execution \(sp-[a-z0-9]*\): SparkApplication in .*/\1/p' "$T/run3.err")
	[ -n "$ID3" ] && "$SPOK" status "$ID3" --no-refresh -o json >"$T/u0.json" 2>/dev/null &&
		[ "$(jget "$T/u0.json" started_ms)" != "" ] && break
	sleep 0.2
done
kill -TERM "$RUNPID"
wait "$RUNPID"
rc=$?
[ "$rc" = 143 ] || fail "foreground cluster run after SIGTERM exited $rc, want 143"
grep -q "^spok: SIGTERM: stopped following execution $ID3; its SparkApplication keeps running on cluster admin" "$T/run3.err" ||
	fail "SIGTERM message: $(cat "$T/run3.err")"
APP3=$(jget "$T/u0.json" resource_name)
kcurl GET "$APPS/$APP3" || fail "SparkApplication $APP3 gone after SIGTERM to the foreground run"

kcurl DELETE "/api/v1/namespaces/$NS" || true
exit $FAILED
