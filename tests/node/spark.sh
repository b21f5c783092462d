#!/usr/bin/env bash
# tests/node/spark.sh - SparkPi through the REAL Spark operator on the REAL node: the operator's
# spark-submit creates the driver pod; the driver (in spok's image) talks to the API server
# through the kubernetes Service, creates 2 executor pods that connect back to it through its
# headless Service (cluster DNS), the job prints "Pi is roughly 3.14..." in the driver pod's
# real log. Then the application is deleted and nothing of it is left (pods, services,
# configmaps: garbage-collected through ownerReferences).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
APP=node-pi
APPS="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
WAIT=${SPOK_NODE_JOB_WAIT:-480}

api DELETE "$APPS/$APP"
watch_to "$TMP/app.watch" "$APPS?watch=1&fieldSelector=metadata.name%3D$APP"
watch_to "$TMP/pods.watch" "/api/v1/namespaces/$NS/pods?watch=1&labelSelector=sparkoperator.k8s.io%2Fapp-name%3D$APP"
sleep 1
sed "s|image: IMAGE|image: $IMAGE|" "$SRC/tests/node/data/sparkapp-pi.yaml" >"$TMP/app.yaml"
api POST "$APPS" -H 'Content-Type: application/yaml' --data-binary "@$TMP/app.yaml"
[ "$CODE" = 201 ] && ok "create $APP" || { not_ok "create $APP (HTTP $CODE): $(head -c 600 "$TMP/body")"; finish; exit 1; }

done_() { grep -qE '"state":"(COMPLETED|FAILED|SUBMISSION_FAILED)"' "$TMP/app.watch"; }
wait_for "$WAIT" done_ || echo "# no final state after ${WAIT}s"
seen=$(grep -o '"applicationState":{[^}]*}' "$TMP/app.watch" | sed -n 's/.*"state":"\([A-Z_]*\)".*/\1/p' | uniq | tr '\n' ' ')
echo "# states seen: $seen"
case " $seen " in *" SUBMITTED "*"RUNNING "*"COMPLETED "*) ok "operator states SUBMITTED -> RUNNING -> COMPLETED" ;;
  *) not_ok "states '$seen', want SUBMITTED ... RUNNING ... COMPLETED" ;; esac

api GET "/api/v1/namespaces/$NS/pods/$APP-driver/log"
cp "$TMP/body" "$TMP/driver.log"
# A Monte Carlo estimate (1,000,000 samples): accepted from 3.12... to 3.16....
if grep -q 'Pi is roughly 3\.1[2-6]' "$TMP/driver.log"; then
  pi=$(grep -o 'Pi is roughly [0-9.]*' "$TMP/driver.log"); ok "driver pod's real log: ${pi%%$'\n'*}"
else
  not_ok "no 'Pi is roughly 3.14' in the driver log (HTTP $CODE); tail:"; tail -n 30 "$TMP/driver.log" | cut -c1-300
fi

# Executors: two distinct pods seen Running, and the driver registered executors 1 and 2.
running=$(python3 - "$TMP/pods.watch" <<'PY'
import json, sys
names = set()
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)["object"]
    except Exception:
        continue
    if o.get("metadata", {}).get("labels", {}).get("spark-role") == "executor" and \
       o.get("status", {}).get("phase") == "Running":
        names.add(o["metadata"]["name"])
print(len(names))
PY
)
[ "$running" -ge 2 ] && ok "$running executor pods were Running" || not_ok "$running executor pods seen Running, want 2"
for id in 1 2; do
  grep -qE "Registered executor .* with ID $id," "$TMP/driver.log" && ok "driver registered executor $id" ||
    not_ok "driver never registered executor $id"
done

api GET "$APPS/$APP"
[ "$(jfield "$TMP/body" status.applicationState.state)" = COMPLETED ] && ok "application COMPLETED" ||
  { st=$(tr -d '\n' <"$TMP/body" | grep -o '"status":{.*' || true); not_ok "final application: ${st:0:800}"; }

# Teardown: delete the application; the garbage collector removes the driver pod, and with it
# (ownerReferences to the driver pod) the executors' leftovers, services and configmaps.
api DELETE "$APPS/$APP"
# The node tests own namespace spark-jobs (RESOURCE_LOCK spok_node_jobs): after the delete it
# holds nothing but its ServiceAccount's root CA ConfigMap.
left() {
  local k
  for k in pods services configmaps; do
    api GET "/api/v1/namespaces/$NS/$k"
    python3 -c 'import json,sys
for o in json.load(open(sys.argv[1])).get("items", []):
    n = o["metadata"]["name"]
    if n != "kube-root-ca.crt": print(sys.argv[2] + "/" + n)' "$TMP/body" "$k"
  done
}
empty() { [ -z "$(left)" ]; }
wait_for 120 empty && ok "nothing of $APP left in $NS (pods, services, configmaps)" ||
  not_ok "left after delete: $(left | tr '\n' ' ')"

if [ "$failed" -ne 0 ]; then
  echo "# operator log tail:"; tail -n 20 "$SPOK_TEST_LOGS/spark-operator.log" | cut -c1-300
  echo "# kubelet log tail:"; tail -n 20 "$SPOK_TEST_LOGS/kubelet.log" | cut -c1-300
fi
finish
