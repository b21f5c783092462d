#!/usr/bin/env bash
# tests/k8s/smoke.sh K8S_DIR - smoke test of the test control plane started by `scripts/k8s up`.
#
# Drives the SparkApplication API with the curl CLI the way spok and the operator use it:
# create, CRD validation, status subresource updates (SUBMITTED -> RUNNING -> COMPLETED),
# printer columns, list with a label selector, watch, RBAC for the limited user, delete.
# Every request has a bounded time; waits poll a bounded number of times.
set -uo pipefail

DIR=${1:?usage: tests/k8s/smoke.sh K8S_DIR}
DATA=$(cd "$(dirname "$0")/data" && pwd)
[ -f "$DIR/env" ] || { echo "smoke: $DIR/env missing; the k8s_up fixture did not run (scripts/k8s up $DIR)"; exit 1; }
# shellcheck disable=SC1091
. "$DIR/env"

NS=default
BASE="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
TMP=$(mktemp -d)
WATCH_PID=""
cleanup() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [ -f "$TMP/body" ] && head -c 600 "$TMP/body" && echo; }

# req AUTH METHOD PATH [curl args]: sets CODE, body in $TMP/body. AUTH is cert|admin-token|user.
req() {
  local auth=$1 method=$2 path=$3; shift 3
  local a=()
  case "$auth" in
    cert) a=(--cert "$SPOK_TEST_ADMIN_CERT" --key "$SPOK_TEST_ADMIN_KEY") ;;
    # Tokens go in through a header file, never on the command line.
    admin-token) printf 'Authorization: Bearer %s\n' "$(cat "$SPOK_TEST_ADMIN_TOKEN_FILE")" >"$TMP/h" ; a=(-H "@$TMP/h") ;;
    user) printf 'Authorization: Bearer %s\n' "$(cat "$SPOK_TEST_USER_TOKEN_FILE")" >"$TMP/h"; a=(-H "@$TMP/h") ;;
    sa) printf 'Authorization: Bearer %s\n' "$(cat "$TMP/sa.token")" >"$TMP/h"; a=(-H "@$TMP/h") ;;
  esac
  CODE=$(curl -sS -A spok-test --max-time 30 --cacert "$SPOK_TEST_CA" "${a[@]}" -o "$TMP/body" -w '%{http_code}' \
    -X "$method" "$@" "$SPOK_TEST_APISERVER$path")
}

expect() { # expect CODE DESCRIPTION
  if [ "$CODE" = "$1" ]; then ok "$2"; else not_ok "$2 (HTTP $CODE, want $1)"; fi
}

body_has() { local b; b=$(tr -d '\n' <"$TMP/body"); grep -q -- "$1" <<<"$b"; }

status_patch() { # status_patch STATE
  req cert PATCH "$BASE/smoke-pi/status" -H 'Content-Type: application/merge-patch+json' \
    --data-binary "{\"status\":{\"applicationState\":{\"state\":\"$1\"},\"driverInfo\":{\"podName\":\"smoke-pi-driver\"},\"executionAttempts\":1,\"submissionAttempts\":1,\"lastSubmissionAttemptTime\":\"2026-01-01T00:00:00Z\"}}"
}

# --- discovery and auth
req cert GET /readyz
expect 200 "readyz with the admin client certificate"
req admin-token GET /apis/sparkoperator.k8s.io/v1beta2
expect 200 "discovery of sparkoperator.k8s.io/v1beta2 with the admin token"
body_has '"shortNames":\["sparkapp"\]' && ok "short name sparkapp" || not_ok "short name sparkapp"
body_has '"name":"sparkapplications/status"' && ok "status subresource served" || not_ok "status subresource served"

# --- clean slate (a previous failed run may have left the object)
req cert DELETE "$BASE/smoke-pi"

# --- start a watch from the current list resourceVersion
req cert GET "$BASE?labelSelector=spok.io%2Ftest%3Dsmoke"
expect 200 "list with label selector"
# The list's own metadata is the last flat "metadata" object in the body.
RV=$(tr -d '\n' <"$TMP/body" | grep -o '"metadata":{[^{}]*}' | tail -n1 | sed -n 's/.*"resourceVersion":"\([^"]*\)".*/\1/p')
[ -n "$RV" ] && ok "list has a resourceVersion" || not_ok "list has a resourceVersion"
curl -sS -N -A spok-test --max-time 120 --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" --key "$SPOK_TEST_ADMIN_KEY" \
  "$SPOK_TEST_APISERVER$BASE?watch=1&allowWatchBookmarks=true&timeoutSeconds=110&resourceVersion=$RV&labelSelector=spok.io%2Ftest%3Dsmoke" \
  >"$TMP/watch" 2>"$TMP/watch.err" &
WATCH_PID=$!

# --- create and validation
req cert POST "$BASE" -H 'Content-Type: application/yaml' --data-binary "@$DATA/sparkapp-smoke.yaml"
expect 201 "create SparkApplication smoke-pi"
req cert POST "$BASE" -H 'Content-Type: application/yaml' --data-binary "@$DATA/sparkapp-smoke.yaml"
expect 409 "second create conflicts"
req cert POST "$BASE" -H 'Content-Type: application/yaml' --data-binary "@$DATA/sparkapp-bad-type.yaml"
expect 422 "spec.type Go rejected by the CRD schema"
body_has 'spec.type' && ok "rejection names spec.type" || not_ok "rejection names spec.type"
req cert POST "$BASE" -H 'Content-Type: application/yaml' --data-binary "@$DATA/sparkapp-missing-main.yaml"
expect 422 "missing spec.mainApplicationFile rejected"

# --- status subresource: the main resource ignores status, /status ignores spec
req cert PATCH "$BASE/smoke-pi" -H 'Content-Type: application/merge-patch+json' \
  --data-binary '{"status":{"applicationState":{"state":"RUNNING"}}}'
expect 200 "patch of status through the main resource is accepted"
body_has '"applicationState"' && not_ok "main resource must not write status" || ok "main resource does not write status"
for s in SUBMITTED RUNNING COMPLETED; do
  status_patch "$s"
  expect 200 "status subresource update to $s"
  body_has "\"state\":\"$s\"" && ok "state is $s" || not_ok "state is $s"
done
req cert PATCH "$BASE/smoke-pi/status" -H 'Content-Type: application/merge-patch+json' \
  --data-binary '{"spec":{"type":"Scala"},"status":{"terminationTime":"2026-01-01T00:01:00Z"}}'
expect 200 "status update carrying a spec change"
body_has '"type":"Python"' && ok "status update leaves spec alone" || not_ok "status update leaves spec alone"

# --- printer columns (what kubectl get shows)
req cert GET "$BASE/smoke-pi" -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io'
expect 200 "table view"
body_has '"name":"Status"' && body_has '"COMPLETED"' && ok "Status column shows COMPLETED" || not_ok "Status column shows COMPLETED"

# --- RBAC: the limited user has no grants
req user GET "$BASE"
expect 403 "limited user cannot list sparkapplications"
req user GET /api/v1/namespaces/default/pods
expect 403 "limited user cannot list pods"

# --- ServiceAccount tokens (TokenRequest) and RBAC grants
req cert DELETE /api/v1/namespaces/default/serviceaccounts/smoke-sa
req cert DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/smoke-reader
req cert DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/smoke-reader
req cert POST /api/v1/namespaces/default/serviceaccounts -H 'Content-Type: application/json' \
  --data-binary '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"smoke-sa"}}'
expect 201 "create ServiceAccount smoke-sa"
req cert POST /api/v1/namespaces/default/serviceaccounts/smoke-sa/token -H 'Content-Type: application/json' \
  --data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}'
expect 201 "TokenRequest for smoke-sa"
tr -d '\n' <"$TMP/body" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p' >"$TMP/sa.token"
req sa GET "$BASE"
expect 403 "ServiceAccount token authenticates (403, not 401) without grants"
body_has 'system:serviceaccount:default:smoke-sa' && ok "403 names the ServiceAccount" || not_ok "403 names the ServiceAccount"
req cert POST /apis/rbac.authorization.k8s.io/v1/namespaces/default/roles -H 'Content-Type: application/json' \
  --data-binary '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"smoke-reader"},"rules":[{"apiGroups":["sparkoperator.k8s.io"],"resources":["sparkapplications"],"verbs":["get","list","watch"]}]}'
expect 201 "create Role smoke-reader"
req cert POST /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings -H 'Content-Type: application/json' \
  --data-binary '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"smoke-reader"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"smoke-reader"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"spok-user"},{"kind":"ServiceAccount","name":"smoke-sa","namespace":"default"}]}'
expect 201 "bind smoke-reader to spok-user and smoke-sa"
for who in user sa; do
  for _ in $(seq 1 50); do req "$who" GET "$BASE"; [ "$CODE" = 200 ] && break; sleep 0.2; done
  expect 200 "$who may list sparkapplications once bound"
  req "$who" DELETE "$BASE/smoke-pi"
  expect 403 "$who still may not delete"
done
req cert DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/smoke-reader
req cert DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/smoke-reader
req cert DELETE /api/v1/namespaces/default/serviceaccounts/smoke-sa

# --- delete and watch events
req cert DELETE "$BASE/smoke-pi"
expect 200 "delete smoke-pi"
for _ in $(seq 1 100); do grep -q '"type":"DELETED"' "$TMP/watch" && break; sleep 0.2; done
grep -q '"type":"ADDED"' "$TMP/watch" && ok "watch saw ADDED" || not_ok "watch saw ADDED"
for s in SUBMITTED RUNNING COMPLETED; do
  modified=$(grep '"type":"MODIFIED"' "$TMP/watch" || true)
  grep -q "\"state\":\"$s\"" <<<"$modified" && ok "watch saw MODIFIED $s" || not_ok "watch saw MODIFIED $s"
done
grep -q '"type":"DELETED"' "$TMP/watch" && ok "watch saw DELETED" || { not_ok "watch saw DELETED"; cat "$TMP/watch.err"; }
req cert GET "$BASE/smoke-pi"
expect 404 "smoke-pi is gone"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
