#!/usr/bin/env bash
# tests/direct/engine.sh SPOK SRC - direct submission end to end against the real API server
# (fixture `k8s`: no kubelet, no operator; this script plays the kubelet by patching the driver
# pod's /status, as other tests patch a SparkApplication's status to play the operator):
#   - `spok run --submit direct` creates the conf ConfigMap, the driver pod and the headless
#     Service, the ConfigMaps and the Service owned by the pod; the row records "direct";
#   - success (exit 0), failure with an exit code, OOMKilled, an image pull error, the pod
#     deleted by someone else, the stuck-in-Pending deadline, abort, the task timeout and a
#     retry (attempt 2 under its own names), each ending with the objects the keep rules leave;
#   - kill -9 (SPOK_CRASH_AT) at every step of the create path and of the run, then `spok
#     reconcile`: exactly one driver pod for the attempt, the Service and owner references
#     there, and after the end nothing left (no orphan ConfigMap or Service);
#   - an owner patch the API server refuses (no `patch` on ConfigMaps for the kubeconfig's user
#     yet) is asked again until it is done, the run going on meanwhile, and goes once more when
#     the attempt ends with its objects kept before the next round;
#   - `submission: direct` in the platform config, and a bad value named with file:line:col.
set -u
SPOK=$1
SRC=$2
[ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ] || { echo "SPOK_K8S_ENV not set: run under the k8s fixture" >&2; exit 1; }
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$SPOK_K8S_ENV"
T=$(mktemp -d)
export SPOK_DATA_DIR="$T/data" XDG_CONFIG_HOME="$T/config" HOME="$T"
unset SPOK_CONFIG
NS="direct-eng-$$-$RANDOM"
API="$SPOK_TEST_APISERVER"
FAILED=0
BG=
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
kcurl() { # kcurl METHOD PATH [JSON [CONTENT-TYPE]]: answer in $T/k.out
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: ${4:-application/json}" --data "$3")
	curl -sS --fail-with-body --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
		--key "$SPOK_TEST_ADMIN_KEY" -X "$1" "${body[@]}" "$API$2" >"$T/k.out" 2>&1
}
trap '[ -n "$BG" ] && kill "$BG" 2>/dev/null; kcurl DELETE "/api/v1/namespaces/$NS"; rm -rf "$T"' EXIT
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$@"; }

kcurl POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" ||
	die "cannot create namespace $NS: $(cat "$T/k.out")"
# The driver's service account (the pod's admission looks it up).
kcurl POST "/api/v1/namespaces/$NS/serviceaccounts" '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"spark"}}' ||
	die "cannot create the service account: $(cat "$T/k.out")"

# Job files: pi.py shipped (a files ConfigMap too), and variants.
mkdir -p "$T/job"
cp "$SRC/examples/pi/pi.py" "$T/job/pi.py"
sed -e 's/^retries: .*/retries: 0/' -e 's/^timeout: .*/timeout: 30m/' "$SRC/examples/pi/pi.yaml" >"$T/job/pi.yaml"
sed -e 's/^retries: .*/retries: 1/' "$T/job/pi.yaml" >"$T/job/retry.yaml"
sed -e 's/^timeout: .*/timeout: 2s/' "$T/job/pi.yaml" >"$T/job/timeout.yaml"

run_d() { # run_d JOB [spok run flags...]: prints the id; SPOK_CRASH_AT from the caller
	local job=$1
	shift
	"$SPOK" run "$T/job/$job" --cluster admin -n "$NS" -d -q --submit direct "$@" 2>"$T/run.err"
}
reconcile() { "$SPOK" reconcile --cluster admin -q >"$T/rec.out" 2>&1 || fail "reconcile: $(cat "$T/rec.out")"; }
status() { "$SPOK" status "$1" --no-refresh -o json >"$T/st.json" || fail "status $1"; }
field() { status "$1" && jget "$T/st.json" "$2"; }
# names ID KIND: the names of KIND (configmaps, pods, services) labelled for execution ID
names() {
	kcurl GET "/api/v1/namespaces/$NS/$2?labelSelector=spok.dev%2Fexecution%3D$1" || { fail "list $2"; return; }
	python3 -c 'import json,sys
print(" ".join(sorted(o["metadata"]["name"] for o in json.load(open(sys.argv[1]))["items"])))' "$T/k.out"
}
# expect_objects ID CMS PODS SVCS: exactly these names (space-separated, sorted) exist
expect_objects() {
	local got
	got=$(names "$1" configmaps)
	[ "$got" = "$2" ] || fail "$1: configmaps [$got], want [$2]"
	got=$(names "$1" pods)
	[ "$got" = "$3" ] || fail "$1: pods [$got], want [$3]"
	got=$(names "$1" services)
	[ "$got" = "$4" ] || fail "$1: services [$got], want [$4]"
}
# owned_now APP: the conf and files ConfigMaps and the Service name the driver pod (its uid)
# as their one controller owner; what is missing goes to $T/owned.why
owned_now() {
	local pod="$1-driver" uid obj
	kcurl GET "/api/v1/namespaces/$NS/pods/$pod" || { echo "no pod $pod" >"$T/owned.why"; return 1; }
	uid=$(jget "$T/k.out" metadata.uid)
	for obj in "configmaps/$1-conf" "configmaps/$1-files" "services/$1-driver-svc"; do
		kcurl GET "/api/v1/namespaces/$NS/$obj" || { echo "no $obj" >"$T/owned.why"; return 1; }
		python3 -c 'import json,sys
refs=json.load(open(sys.argv[1]))["metadata"].get("ownerReferences") or []
ok=[r for r in refs if r["kind"]=="Pod" and r["name"]==sys.argv[2] and r["uid"]==sys.argv[3] and r.get("controller")]
sys.exit(0 if len(refs)==1 and ok else 1)' "$T/k.out" "$pod" "$uid" ||
			{ echo "$obj: not owned by pod $pod ($uid): $(cat "$T/k.out")" >"$T/owned.why"; return 1; }
	done
}
# owned APP: owned_now, polled: the owner patches go out in the same turn as the Service's
# create, so the Service can exist a moment before its ConfigMaps are patched (and after a
# crash, until the reconciler sends them again)
owned() {
	local i
	for ((i = 0; i < 1200; i++)); do
		owned_now "$1" && return 0
		sleep 0.1
	done
	fail "$(cat "$T/owned.why")"
}
# kubelet POD STATUS-JSON: plays the kubelet (merge patch of the pod's /status)
kubelet() {
	kcurl PATCH "/api/v1/namespaces/$NS/pods/$1/status" "{\"status\":$2}" application/merge-patch+json ||
		fail "patch $1/status: $(cat "$T/k.out")"
}
ctr() { # ctr STATE-JSON: the driver container's status
	printf '[{"name":"spark-kubernetes-driver","image":"apache/spark:4.0.5","imageID":"","ready":false,"restartCount":0,"state":%s}]' "$1"
}
running() { kubelet "$1" "{\"phase\":\"Running\",\"containerStatuses\":$(ctr '{"running":{"startedAt":"2026-01-01T00:00:00Z"}}')}"; }
ended() { # ended POD PHASE EXIT REASON
	kubelet "$1" "{\"phase\":\"$2\",\"containerStatuses\":$(ctr "{\"terminated\":{\"exitCode\":$3,\"reason\":\"$4\",\"startedAt\":\"2026-01-01T00:00:00Z\",\"finishedAt\":\"2026-01-01T00:01:00Z\"}}")}"
}
app_of() { field "$1" resource_name; }
wait_for() { # wait_for WHAT CMD...: bounded poll
	local what=$1 i
	shift
	for ((i = 0; i < 1200; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "gave up waiting for $what"
	return 1
}
pod_exists() { kcurl GET "/api/v1/namespaces/$NS/pods/$1"; }
phase_is() { [ "$(field "$1" phase)" = "$2" ]; }

# ---- 1. created in order, owned, recorded as direct; success tears everything down ----
ID=$(run_d pi.yaml) || die "spok run --submit direct -d: $(cat "$T/run.err")"
APP=$(app_of "$ID")
[ "$(field "$ID" submission)" = direct ] || fail "$ID: the row does not record submission direct"
expect_objects "$ID" "$APP-conf $APP-files" "$APP-driver" "$APP-driver-svc"
owned "$APP"
kcurl GET "/api/v1/namespaces/$NS/configmaps/$APP-conf" && [ "$(jget "$T/k.out" immutable)" = True ] ||
	fail "$APP-conf is not immutable"
"$SPOK" status "$ID" -o json >"$T/live.json" || fail "status (live)"
[ "$(jget "$T/live.json" live.phase)" = INITIALIZING ] || fail "live status of a pending pod: $(cat "$T/live.json")"
# spok ui: the driver pod decides, the UI is its Service's (no kubelet: no endpoints)
timeout 60 "$SPOK" ui "$ID" --port 0 >/dev/null 2>"$T/ui.err"
rc=$?
[ "$rc" = 4 ] && grep -q "the Spark UI is not up yet: the driver pod is PENDING" "$T/ui.err" ||
	fail "ui of a pending driver pod: exit $rc: $(cat "$T/ui.err")"
running "$APP-driver"
timeout 60 "$SPOK" ui "$ID" --port 0 >/dev/null 2>"$T/ui.err"
rc=$?
[ "$rc" = 3 ] && grep -q "the Spark UI Service $NS/$APP-driver-svc does not answer yet" "$T/ui.err" ||
	fail "ui of a running driver pod: exit $rc: $(cat "$T/ui.err")"
ended "$APP-driver" Succeeded 0 Completed
reconcile
phase_is "$ID" SUCCEEDED || fail "success: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - created in order, owned, succeeded, torn down\n'

# ---- 2. failures: exit code, OOMKilled (kept, as failed attempts are), image pull error ----
ID=$(run_d pi.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
running "$APP-driver"
ended "$APP-driver" Failed 1 Error
reconcile
phase_is "$ID" RETRYABLE_FAILURE || fail "exit 1: $(cat "$T/st.json")"
grep -q "driver container failed with ExitCode: 1, Reason: Error" "$T/st.json" || fail "exit 1 reason: $(cat "$T/st.json")"
expect_objects "$ID" "$APP-conf $APP-files" "$APP-driver" "$APP-driver-svc"
printf 'ok - failed with exit code 1, objects kept\n'

ID=$(run_d pi.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
ended "$APP-driver" Failed 137 OOMKilled
reconcile
phase_is "$ID" RETRYABLE_FAILURE || fail "OOMKilled: $(cat "$T/st.json")"
grep -q "ExitCode: 137, Reason: OOMKilled" "$T/st.json" || fail "OOMKilled reason: $(cat "$T/st.json")"
printf 'ok - OOMKilled\n'

ID=$(run_d retry.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
kubelet "$APP-driver" "{\"phase\":\"Pending\",\"containerStatuses\":$(ctr '{"waiting":{"reason":"ErrImagePull","message":"pull access denied for nope"}}')}"
reconcile
phase_is "$ID" PERMANENT_FAILURE || fail "ErrImagePull: $(cat "$T/st.json")"
[ "$(jget "$T/st.json" attempt)" = 0 ] || fail "ErrImagePull was retried"
grep -q "driver pod $APP-driver cannot pull image \\\\\"apache/spark:4.0.5\\\\\": ErrImagePull: pull access denied" "$T/st.json" ||
	fail "ErrImagePull reason: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - image pull error: permanent, deleted\n'

ID=$(run_d pi.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
kcurl DELETE "/api/v1/namespaces/$NS/pods/$APP-driver" || fail "delete $APP-driver"
reconcile
phase_is "$ID" RETRYABLE_FAILURE || fail "pod deleted: $(cat "$T/st.json")"
grep -q "ResourceDeletedExternally: driver pod $NS/$APP-driver was deleted by someone else" "$T/st.json" ||
	fail "pod deleted: reason: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - driver pod deleted by someone else\n'

# A pod that never runs: the SUBMITTED-style deadline (here 2 s) fails the attempt.
ID=$(run_d pi.yaml) || die "run: $(cat "$T/run.err")"
"$SPOK" reconcile --cluster admin -q --submitted-timeout 2s >"$T/rec.out" 2>&1 || fail "reconcile: $(cat "$T/rec.out")"
phase_is "$ID" RETRYABLE_FAILURE || fail "deadline: $(cat "$T/st.json")"
grep -q "stuck in Pending for 0m2s: the driver pod did not start" "$T/st.json" || fail "deadline reason: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - a pod that never runs: the deadline\n'

# ---- 3. abort, timeout, retry ----
ID=$(run_d pi.yaml) || die "run: $(cat "$T/run.err")"
"$SPOK" abort "$ID" >"$T/abort.out" 2>&1 || fail "abort: $(cat "$T/abort.out")"
phase_is "$ID" ABORTED || fail "abort: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - abort\n'

ID=$(run_d timeout.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
running "$APP-driver"
reconcile
phase_is "$ID" TIMED_OUT || fail "timeout: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - task timeout\n'

ID=$(run_d retry.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
ended "$APP-driver" Failed 1 Error
"$SPOK" reconcile --cluster admin -q >"$T/rec2.out" 2>&1 &
BG=$!
APP2="${APP%-0}-1"
wait_for "attempt 2's driver pod" pod_exists "$APP2-driver"
wait_for "attempt 2's Service" kcurl GET "/api/v1/namespaces/$NS/services/$APP2-driver-svc"
owned "$APP2"
ended "$APP2-driver" Succeeded 0 Completed
wait "$BG" || fail "reconcile (retry): $(cat "$T/rec2.out")"
BG=
phase_is "$ID" SUCCEEDED || fail "retry: $(cat "$T/st.json")"
[ "$(jget "$T/st.json" attempt)" = 1 ] || fail "retry: attempt $(jget "$T/st.json" attempt)"
# attempt 1 failed and is kept; attempt 2 succeeded and is gone
expect_objects "$ID" "$APP-conf $APP-files" "$APP-driver" "$APP-driver-svc"
printf 'ok - retry: attempt 2 under its own names\n'

# ---- 4. kill -9 at every step, then spok reconcile ----
for at in before-create after-conf after-create after-service; do
	SPOK_CRASH_AT=$at run_d pi.yaml >"$T/crash.out"
	rc=$?
	[ "$rc" = 137 ] || { fail "$at: spok run exit $rc, want 137: $(cat "$T/run.err")"; continue; }
	# the one unfinished execution (a crash before the create returns prints no id)
	"$SPOK" list --phase active -o json >"$T/active.json" 2>/dev/null || fail "$at: list"
	ID=$(python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
rows=v if isinstance(v, list) else (v.get("executions") or v.get("items") or [])
print(rows[0]["id"] if len(rows)==1 else "")' "$T/active.json")
	[ -n "$ID" ] || { fail "$at: no execution id"; continue; }
	APP=$(app_of "$ID")
	# reconcile follows it to the end: the kubelet's part once the pod is back
	"$SPOK" reconcile --cluster admin -q >"$T/rec3.out" 2>&1 &
	BG=$!
	wait_for "$at: the Service after reconcile" kcurl GET "/api/v1/namespaces/$NS/services/$APP-driver-svc"
	expect_objects "$ID" "$APP-conf $APP-files" "$APP-driver" "$APP-driver-svc"
	owned "$APP"
	ended "$APP-driver" Succeeded 0 Completed
	wait "$BG" || fail "$at: reconcile: $(cat "$T/rec3.out")"
	BG=
	phase_is "$ID" SUCCEEDED || fail "$at: $(cat "$T/st.json")"
	expect_objects "$ID" "" "" ""
	printf 'ok - crash at %s, reconciled\n' "$at"
done

# running (RUNNING recorded) and teardown (SUCCEEDED recorded, nothing deleted): the
# foreground run is killed there.
for at in running teardown; do
	SPOK_CRASH_AT=$at "$SPOK" run "$T/job/pi.yaml" --cluster admin -n "$NS" -q --submit direct \
		>"$T/fg.out" 2>"$T/fg.err" &
	BG=$!
	ID=
	wait_for "$at: the execution id" grep -q "execution sp-" "$T/fg.err"
	ID=$(sed -n 's/^spok: execution \(sp-[a-z0-9]*\): .*/\1/p' "$T/fg.err")
	APP=$(app_of "$ID")
	wait_for "$at: the Service" kcurl GET "/api/v1/namespaces/$NS/services/$APP-driver-svc"
	running "$APP-driver"
	[ "$at" = teardown ] && ended "$APP-driver" Succeeded 0 Completed
	wait "$BG"
	rc=$?
	BG=
	[ "$rc" = 137 ] || fail "$at: spok run exit $rc, want 137: $(cat "$T/fg.err")"
	expect_objects "$ID" "$APP-conf $APP-files" "$APP-driver" "$APP-driver-svc"
	[ "$at" = running ] && ended "$APP-driver" Succeeded 0 Completed
	reconcile
	phase_is "$ID" SUCCEEDED || fail "$at: $(cat "$T/st.json")"
	expect_objects "$ID" "" "" ""
	printf 'ok - crash at %s, reconciled\n' "$at"
done

# ---- 6. review findings: only spok's objects deleted, nothing left unowned or running ----
crashed_id() { # the one unfinished execution after a crash
	"$SPOK" list --phase active -o json >"$T/active.json" 2>/dev/null || fail "list"
	python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
rows=v if isinstance(v, list) else (v.get("executions") or v.get("items") or [])
print(rows[0]["id"] if len(rows)==1 else "")' "$T/active.json"
}
# A Service of the attempt's name that spok did not make stays (the attempt fails).
SPOK_CRASH_AT=after-create run_d pi.yaml >/dev/null
ID=$(crashed_id)
APP=$(app_of "$ID")
kcurl POST "/api/v1/namespaces/$NS/services" "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"$APP-driver-svc\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":1}]}}" ||
	fail "foreign Service: $(cat "$T/k.out")"
reconcile
phase_is "$ID" PERMANENT_FAILURE || fail "foreign Service: $(cat "$T/st.json")"
grep -q "Service $NS/$APP-driver-svc: name taken" "$T/st.json" || fail "foreign Service reason: $(cat "$T/st.json")"
kcurl GET "/api/v1/namespaces/$NS/services/$APP-driver-svc" || fail "spok deleted a Service it did not create"
expect_objects "$ID" "" "" ""
kcurl DELETE "/api/v1/namespaces/$NS/services/$APP-driver-svc"
printf 'ok - a Service spok did not create is left alone\n'

# A re-adopted attempt whose task file is gone: its Service is made from the live pod and the
# run is followed to its end.
cp "$T/job/pi.yaml" "$T/job/gone.yaml"
SPOK_CRASH_AT=after-create run_d gone.yaml >/dev/null
ID=$(crashed_id)
APP=$(app_of "$ID")
rm "$T/job/gone.yaml"
"$SPOK" reconcile --cluster admin -q >"$T/rec4.out" 2>&1 &
BG=$!
wait_for "the Service made from the pod" kcurl GET "/api/v1/namespaces/$NS/services/$APP-driver-svc"
owned "$APP"
ended "$APP-driver" Succeeded 0 Completed
wait "$BG" || fail "reconcile (task gone): $(cat "$T/rec4.out")"
BG=
phase_is "$ID" SUCCEEDED || fail "task gone: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - task gone after the pod: Service from the pod, followed to the end\n'

# ... gone before the pod: the attempt fails and its ConfigMaps go.
cp "$T/job/pi.yaml" "$T/job/gone.yaml"
SPOK_CRASH_AT=after-conf run_d gone.yaml >/dev/null
ID=$(crashed_id)
APP=$(app_of "$ID")
rm "$T/job/gone.yaml"
expect_objects "$ID" "$APP-conf $APP-files" "" ""
reconcile
phase_is "$ID" PERMANENT_FAILURE || fail "task gone before the pod: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - task gone before the pod: failed, no ConfigMap left\n'

# A driver pod someone else deletes (deletionTimestamp set, a finalizer holds it):
# ResourceDeletedExternally naming the pod, its ConfigMaps and Service deleted.
ID=$(run_d pi.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
running "$APP-driver"
kcurl PATCH "/api/v1/namespaces/$NS/pods/$APP-driver" '{"metadata":{"finalizers":["spok.test/hold"]}}' application/merge-patch+json ||
	fail "finalizer: $(cat "$T/k.out")"
kcurl DELETE "/api/v1/namespaces/$NS/pods/$APP-driver" || fail "delete pod: $(cat "$T/k.out")"
reconcile
phase_is "$ID" RETRYABLE_FAILURE || fail "pod deleted: $(cat "$T/st.json")"
grep -q "ResourceDeletedExternally: driver pod $NS/$APP-driver was deleted by someone else" "$T/st.json" ||
	fail "pod deleted, reason: $(cat "$T/st.json")"
expect_objects "$ID" "" "$APP-driver" ""
kcurl PATCH "/api/v1/namespaces/$NS/pods/$APP-driver" '{"metadata":{"finalizers":null}}' application/merge-patch+json ||
	fail "finalizer off: $(cat "$T/k.out")"
printf 'ok - driver pod deleted by someone else: ResourceDeletedExternally\n'

# A Failed pod whose driver exited 0 completed (the operator's rule).
ID=$(run_d pi.yaml) || die "run: $(cat "$T/run.err")"
APP=$(app_of "$ID")
ended "$APP-driver" Failed 0 Completed
reconcile
phase_is "$ID" SUCCEEDED || fail "Failed pod, exit 0: $(cat "$T/st.json")"
printf 'ok - Failed pod with driver exit 0: succeeded\n'

# ---- 7. an owner patch refused at first (the kubeconfig user may not patch ConfigMaps yet) is
# asked again until it is done; the run goes on meanwhile ----
rules() { # rules CONFIGMAP-VERBS: what the limited user may do in $NS
	printf '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"spok-run","namespace":"%s"},"rules":[{"apiGroups":[""],"resources":["pods","services"],"verbs":["create","get","list","watch","delete","deletecollection"]},{"apiGroups":[""],"resources":["pods/log"],"verbs":["get"]},{"apiGroups":[""],"resources":["configmaps"],"verbs":%s}]}' "$NS" "$1"
}
CM_VERBS='["create","get","list","watch","delete","deletecollection"'
kcurl POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/roles" "$(rules "$CM_VERBS]")" ||
	fail "role: $(cat "$T/k.out")"
kcurl POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/rolebindings" \
	"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"spok-run\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"spok-run\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"${SPOK_TEST_USER:-spok-user}\"}]}" ||
	fail "rolebinding: $(cat "$T/k.out")"
ID=$("$SPOK" run "$T/job/pi.yaml" --cluster user -n "$NS" -d -q --submit direct 2>"$T/own.err") ||
	fail "spok run --cluster user: $(cat "$T/own.err")"
APP=$(app_of "$ID")
refused() { grep -q "$ID: the ConfigMap's owner reference (asked again): .*forbidden" "$1"; }
refused "$T/own.err" || fail "no refused owner patch: $(cat "$T/own.err")"
# reconcile re-adopts the run: its patches are refused again, and asked again
"$SPOK" reconcile --cluster user >"$T/own2.out" 2>&1 &
BG=$!
wait_for "the refused owner patch after re-adoption" refused "$T/own2.out"
cm_owned() { # cm_owned NAME: the ConfigMap names the driver pod as its owner
	kcurl GET "/api/v1/namespaces/$NS/configmaps/$1" && python3 -c 'import json,sys
refs=json.load(open(sys.argv[1]))["metadata"].get("ownerReferences") or []
sys.exit(0 if [(r["kind"], r["name"]) for r in refs] == [("Pod", sys.argv[2])] else 1)' "$T/k.out" "$APP-driver"
}
cm_owned "$APP-conf" && fail "$APP-conf has an owner although the patch was refused"
kcurl PUT "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/roles/spok-run" "$(rules "$CM_VERBS,\"patch\"]")" ||
	fail "role with patch: $(cat "$T/k.out")"
both_owned() { cm_owned "$APP-conf" && cm_owned "$APP-files"; }
for ((i = 0; i < 900; i++)); do both_owned && break; sleep 0.1; done # the retry waits double
both_owned || fail "the owner patches were not asked again once allowed: $(tail -n 5 "$T/own2.out")"
owned "$APP"
ended "$APP-driver" Succeeded 0 Completed
wait "$BG" || fail "reconcile (owner patch refused at first): exit $?: $(tail -n 5 "$T/own2.out")"
BG=
phase_is "$ID" SUCCEEDED || fail "owner patch refused at first: $(cat "$T/st.json")"
expect_objects "$ID" "" "" ""
printf 'ok - a refused owner patch is asked again until it is done\n'

# ---- 8. the run ends (objects kept: a failed attempt) while its owner patch waits for the next
# round: the last round goes with the end, so a kept pod deleted by hand takes its ConfigMaps ----
kcurl PUT "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/roles/spok-run" "$(rules "$CM_VERBS]")" ||
	fail "role without patch: $(cat "$T/k.out")"
can_patch() { # the limited user may patch ConfigMap $1 (a dry run): the Role change is in effect
	curl -sS --fail --cacert "$SPOK_TEST_CA" -H "Authorization: Bearer $(cat "$SPOK_TEST_USER_TOKEN_FILE")" \
		-X PATCH -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{}}' \
		"$API/api/v1/namespaces/$NS/configmaps/$1?dryRun=All" >/dev/null 2>&1
}
ID=$("$SPOK" run "$T/job/pi.yaml" --cluster user -n "$NS" -d -q --submit direct 2>"$T/own3.err") ||
	fail "spok run --cluster user: $(cat "$T/own3.err")"
APP=$(app_of "$ID")
"$SPOK" reconcile --cluster user >"$T/own4.out" 2>&1 &
BG=$!
# four refused rounds: the next one is 8 s away (the waits double from 1 s)
rounds() { [ "$(grep -c "$ID: the ConfigMap's owner reference (asked again): .*forbidden" "$T/own4.out")" -ge 4 ]; }
wait_for "four refused owner rounds" rounds
kcurl PUT "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/roles/spok-run" "$(rules "$CM_VERBS,\"patch\"]")" ||
	fail "role with patch: $(cat "$T/k.out")"
wait_for "patch allowed" can_patch "$APP-conf"
ended "$APP-driver" Failed 1 Error
wait "$BG" || fail "reconcile (kept end): exit $?: $(tail -n 5 "$T/own4.out")"
BG=
phase_is "$ID" RETRYABLE_FAILURE || fail "kept end: $(cat "$T/st.json")"
both_owned || fail "a kept failed attempt's ConfigMaps have no owner: $(tail -n 5 "$T/own4.out")"
expect_objects "$ID" "$APP-conf $APP-files" "$APP-driver" "$APP-driver-svc"
printf 'ok - a kept attempt ending while its owner patch waits: the last round goes with the end\n'

# ---- 5. the platform config: submission per cluster ----
mkdir -p "$T/config/spok"
cat >"$T/config/spok/config.yaml" <<EOF
spok:
  clusters:
    - name: admin
      context: admin
      submission: direct
EOF
ID=$("$SPOK" run "$T/job/pi.yaml" --cluster admin -n "$NS" -d -q 2>"$T/run.err") || fail "run with submission: direct: $(cat "$T/run.err")"
[ "$(field "$ID" submission)" = direct ] || fail "config submission: direct not used: $(cat "$T/st.json")"
APP=$(app_of "$ID")
pod_exists "$APP-driver" || fail "config submission: direct: no driver pod"
"$SPOK" abort "$ID" >/dev/null 2>&1 || fail "abort $ID"
cat >"$T/config/spok/config.yaml" <<EOF
spok:
  clusters:
    - name: admin
      submission: directly
EOF
if "$SPOK" run "$T/job/pi.yaml" --cluster admin -n "$NS" -d -q >/dev/null 2>"$T/bad.err"; then
	fail "a bad submission value was accepted"
fi
grep -q 'config.yaml:4:19: spok.clusters\[0\].submission: expected operator or direct' "$T/bad.err" ||
	fail "bad submission: $(cat "$T/bad.err")"
rm "$T/config/spok/config.yaml"
if "$SPOK" run "$T/job/pi.yaml" --cluster admin -n "$NS" -d -q --submit sideways >/dev/null 2>"$T/bad2.err"; then
	fail "--submit sideways was accepted"
fi
grep -q -- '--submit sideways: expected operator or direct' "$T/bad2.err" || fail "--submit sideways: $(cat "$T/bad2.err")"
printf 'ok - submission from the config, bad values refused\n'

exit "$FAILED"
