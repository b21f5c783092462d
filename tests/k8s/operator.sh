#!/usr/bin/env bash
# tests/k8s/operator.sh K8S_DIR - the REAL Kubeflow Spark operator on KWOK.
#
# Needs `scripts/k8s up --with-operator K8S_DIR` (ctest fixture k8s-operator). Submits a
# SparkApplication to namespace spark-jobs and follows status.applicationState.state:
# the operator runs spark-submit (a real JVM), which creates the driver pod; kube-scheduler
# binds it to the kwok node; kwok marks it Running, then (stage spark-driver-succeed) Succeeded;
# the operator maps that to SUCCEEDING -> COMPLETED. The test asserts the states it saw, in order.
set -uo pipefail

DIR=${1:?usage: tests/k8s/operator.sh K8S_DIR}
DATA=$(cd "$(dirname "$0")/data" && pwd)
[ -f "$DIR/env" ] || { echo "operator: $DIR/env missing; the k8s_operator_up fixture did not run"; exit 1; }
# shellcheck disable=SC1091
. "$DIR/env"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
BASE="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
WAIT=${SPOK_OPERATOR_WAIT:-300}   # seconds; spark-submit starts a JVM on a shared 2-core machine
TMP=$(mktemp -d)

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }

api() { # api METHOD PATH [curl args]: body in $TMP/body, code in CODE
  local method=$1 path=$2; shift 2
  CODE=$(curl -sS -A spok-test --max-time 30 --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
    --key "$SPOK_TEST_ADMIN_KEY" -o "$TMP/body" -w '%{http_code}' -X "$method" "$@" "$SPOK_TEST_APISERVER$path")
}

state_of() { tr -d '\n ' <"$TMP/body" | sed -n 's/.*"applicationState":{[^}]*"state":"\([A-Z_]*\)".*/\1/p'; }

WATCH_PID=""
trap '[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

api DELETE "$BASE/op-pi"
# Follow the application with a watch rather than polling: SUBMITTED may last well under a second.
curl -sS -N -A spok-test --max-time "$WAIT" --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
  --key "$SPOK_TEST_ADMIN_KEY" "$SPOK_TEST_APISERVER$BASE?watch=1&fieldSelector=metadata.name%3Dop-pi" \
  >"$TMP/watch" 2>"$TMP/watch.err" &
WATCH_PID=$!
sleep 1   # let the watch register before the object exists (a missed ADDED is harmless)
api POST "$BASE" -H 'Content-Type: application/yaml' --data-binary "@$DATA/sparkapp-operator.yaml"
[ "$CODE" = 201 ] && ok "create op-pi in $NS" || { not_ok "create op-pi (HTTP $CODE)"; head -c 800 "$TMP/body"; }

deadline=$((SECONDS + WAIT))
while [ $SECONDS -lt $deadline ] && kill -0 "$WATCH_PID" 2>/dev/null; do
  grep -qE '"state":"(COMPLETED|FAILED)"' "$TMP/watch" && break
  sleep 0.5
done
# The states in the order the watch delivered them, repeats folded.
seen=$(grep -o '"applicationState":{[^}]*}' "$TMP/watch" | sed -n 's/.*"state":"\([A-Z_]*\)".*/\1/p' | uniq | tr '\n' ' ')
last=$(echo "$seen" | awk '{print $NF}')
echo "# states seen: $seen"
api GET "$BASE/op-pi"
status_json=$(tr -d '\n' <"$TMP/body")
[[ $status_json == *'"status":{'* ]] && echo "\"status\":{$(s=${status_json#*'"status":{'}; printf '%s' "${s:0:1490}")"

case " $seen " in *" SUBMITTED "*) ok "operator submitted (spark-submit ran, driver pod created)" ;;
  *) not_ok "operator never reached SUBMITTED" ;; esac
case " $seen " in *" RUNNING "*) ok "driver reported RUNNING (kwok pod-running stage)" ;;
  *) not_ok "never saw RUNNING" ;; esac
case " $seen " in *" SUCCEEDING "*) ok "driver Succeeded -> SUCCEEDING" ;;
  *) not_ok "never saw SUCCEEDING" ;; esac
[ "$last" = COMPLETED ] && ok "application COMPLETED after kwok finished the driver" ||
  not_ok "final state '$last', want COMPLETED"

api GET "/api/v1/namespaces/$NS/pods?labelSelector=spark-role%3Ddriver%2Csparkoperator.k8s.io%2Fapp-name%3Dop-pi"
pods=$(tr -d '\n ' <"$TMP/body")
if [[ $pods == *'"phase":"Succeeded"'* ]]; then ok "driver pod Succeeded on the kwok node"
else not_ok "driver pod not Succeeded"; head -c 1500 "$TMP/body"; echo; fi

# v2.4+ puts an ownerReference to the SparkApplication into the driver pod template.
if [[ $pods == *'"ownerReferences":[{"apiVersion":"sparkoperator.k8s.io/v1beta2","kind":"SparkApplication","name":"op-pi"'* ]]; then
  ok "driver pod is owned by the SparkApplication"
else not_ok "driver pod has no ownerReference to op-pi"; fi

# Deleting the application: kube-controller-manager's garbage collector removes the driver pod.
api DELETE "$BASE/op-pi"
[ "$CODE" = 200 ] && ok "delete op-pi" || not_ok "delete op-pi (HTTP $CODE)"
for _ in $(seq 1 120); do
  api GET "/api/v1/namespaces/$NS/pods/op-pi-driver"
  [ "$CODE" = 404 ] && break
  sleep 0.5
done
[ "$CODE" = 404 ] && ok "garbage collector removed the driver pod" || not_ok "driver pod still there after delete (HTTP $CODE)"

if [ "$failed" -ne 0 ]; then
  echo "# operator log tail ($SPOK_TEST_LOGS/spark-operator.log):"
  tail -n 40 "$SPOK_TEST_LOGS/spark-operator.log" | cut -c1-400
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
