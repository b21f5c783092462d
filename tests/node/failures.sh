#!/usr/bin/env bash
# tests/node/failures.sh SPOK - failures only a real node shows, through `spok run --cluster`
# and the real operator (docs/ARCHITECTURE.md "Cluster runs", the driver pod rules):
#  1. an image that does not exist: the operator leaves the app SUBMITTED while the driver pod
#     cannot pull it (kubeflow/spark-operator#2667); spok reads the pod and ends the execution
#     PERMANENT_FAILURE naming the image, without retrying it, and deletes the app.
#  2. a driver that needs more memory than the node has: INITIALIZING with the scheduler's
#     reason (progress lines and `spok status`), then TIMED_OUT by the task timeout, torn down.
#  3. an executor pod deleted mid-job: Spark starts another and the job SUCCEEDED (spok needs
#     nothing for this: the operator keeps the app RUNNING).
#  4. the driver pod deleted mid-job: the operator itself marks the app FAILED, spok records
#     that attempt RETRYABLE_FAILURE and the next attempt (retries: 1) SUCCEEDED.
# Each case ends with nothing of it left in the namespace. No timing assertions: the waits
# only turn a hang into a failure.
set -uo pipefail
SPOK=${1:?usage: failures.sh SPOK}
. "$(dirname "$0")/lib.sh"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
DATA="$SRC/tests/node/data"
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
# As tests/node/spok_run.sh: the image built here, the CRD's Spark version, small CPU requests.
cat >"$TMP/spok.yaml" <<YAML
spok:
  default-image: $IMAGE
  spark-version: "4.0.5"
plugins:
  spark:
    spark-config-default:
      spark.kubernetes.driver.request.cores: "250m"
      spark.kubernetes.executor.request.cores: "250m"
YAML

# run_bg NAME JOB [FLAGS]: `spok run JOB --cluster admin` in the background, output in
# $TMP/NAME.out and .err; its pid in BG.
run_bg() {
  local name=$1 job=$2; shift 2
  "$SPOK" run "$job" --cluster admin -n "$NS" --config "$TMP/spok.yaml" "$@" \
    >"$TMP/$name.out" 2>"$TMP/$name.err" &
  BG=$!
  PIDS+=("$BG")
}
id_of() { # id_of NAME: the execution id from $TMP/NAME.err, in ID
  ID=$(sed -n 's/^spok: execution \(sp-[^:]*\): SparkApplication.*/\1/p' "$TMP/$1.err"); ID=${ID%%$'\n'*}
  [ -n "$ID" ]
}
final() { sed -n 's/^spok: execution sp-[^ :]* \([A-Z_][A-Z_]*.*\)$/\1/p' "$TMP/$1.err" | tail -n 1; }
status_json() { "$SPOK" status "$1" -o json --no-refresh >"$TMP/st.json" 2>/dev/null; }
phase_is() { status_json "$1" && [ "$(jfield "$TMP/st.json" phase)" = "$2" ]; }
pod_phase() { api GET "/api/v1/namespaces/$NS/pods/$1" && [ "$CODE" = 200 ] && [ "$(jfield "$TMP/body" status.phase)" = "$2" ]; }
left() { # what is left in the namespace: pods, services, configmaps, SparkApplications
  local k
  for k in pods services configmaps; do
    api GET "/api/v1/namespaces/$NS/$k"
    python3 -c 'import json,sys
for o in json.load(open(sys.argv[1])).get("items", []):
    n = o["metadata"]["name"]
    if n != "kube-root-ca.crt": print(sys.argv[2] + "/" + n)' "$TMP/body" "$k"
  done
  api GET "/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
  python3 -c 'import json,sys
for o in json.load(open(sys.argv[1])).get("items", []): print("sparkapplication/" + o["metadata"]["name"])' "$TMP/body"
}
empty() { [ -z "$(left)" ]; }
nothing_left() { # nothing_left CASE
  wait_for 180 empty && ok "$1: nothing left in $NS" || not_ok "$1: left in $NS: $(left | tr '\n' ' ')"
}
empty || { not_ok "$NS is not empty before the test: $(left | tr '\n' ' ')"; finish; exit 1; }

# ---- 2 (started first: it waits for its timeout while case 1 runs) ----
# A driver asking for twice the node's allocatable memory: its pod stays Pending/Unschedulable.
api GET /api/v1/nodes/spok-node
big=$(python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))["status"]["allocatable"]["memory"]
units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
n = int(m[:-2]) * units[m[-2:]] if m[-2:] in units else int(m)
print(2 * n // 2**30 + 1)' "$TMP/body") || { not_ok "node allocatable memory: $(head -c 300 "$TMP/body")"; finish; exit 1; }
cat >"$TMP/too-big.yaml" <<YAML
name: too-big
type: PYTHON
mainApplicationFile: local:///opt/spark/examples/src/main/python/pi.py
args: ["2"]
sparkConf:
  spark.driver.memory: ${big}g
  spark.executor.memory: 512m
  spark.executor.instances: "1"
retries: 0
timeout: 2m
YAML
run_bg big "$TMP/too-big.yaml"
BIG=$BG
wait_for 60 id_of big && BIG_ID=$ID && ok "2: execution $BIG_ID (driver memory ${big}g)" ||
  not_ok "2: no execution id: $(cat "$TMP/big.err")"
# `spok status` (one live read, the reason as recorded) while the execution waits.
waiting_status() {
  "$SPOK" status "$BIG_ID" >"$TMP/big.status" 2>&1 &&
    grep -q '^Phase: *INITIALIZING' "$TMP/big.status" &&
    grep -q '^Reason: *waiting: 0/1 nodes are available: 1 Insufficient memory' "$TMP/big.status"
}
if wait_for 110 waiting_status; then ok "2: spok status while waiting: $(grep '^Reason' "$TMP/big.status" | cut -c1-120)"
else not_ok "2: spok status never showed the scheduler's reason: $(cat "$TMP/big.status")"; fi

# ---- 1 ----
# pullPolicy Never: the node has no registry, and the test sends nothing off this machine
# (with IfNotPresent the kubelet would try to resolve spok.local first: ErrImagePull).
cat >"$TMP/no-image.yaml" <<YAML
name: no-image
type: PYTHON
mainApplicationFile: local:///opt/spark/examples/src/main/python/pi.py
image: spok.local/nope:1
sparkConf:
  spark.kubernetes.container.image.pullPolicy: Never
  spark.driver.memory: 512m
  spark.executor.instances: "1"
retries: 1
timeout: 10m
YAML
run_bg img "$TMP/no-image.yaml"
wait "$BG"
rc=$?
id_of img && IMG_ID=$ID
line=$(final img)
echo "# 1: $line"
[ $rc -eq 1 ] && ok "1: spok run exit 1 (the job failed)" || not_ok "1: spok run exit $rc, want 1"
case "$line" in
  "PERMANENT_FAILURE: driver pod "*"-driver cannot pull image \"spok.local/nope:1\": "*"(attempt 1 of 2)")
    ok "1: PERMANENT_FAILURE naming the image, not retried" ;;
  *) not_ok "1: final line '$line'"; tail -n 20 "$TMP/img.err" ;;
esac
case "$line" in *ErrImageNeverPull*|*ErrImagePull*|*ImagePullBackOff*) ok "1: the kubelet's reason is in it" ;;
  *) not_ok "1: no pull reason in '$line'" ;; esac
status_json "$IMG_ID"
[ "$(jfield "$TMP/st.json" phase)" = PERMANENT_FAILURE ] && [ "$(jfield "$TMP/st.json" attempt)" = 0 ] &&
  grep -q 'cannot pull image' "$TMP/st.json" && ok "1: recorded PERMANENT_FAILURE, attempt 0, with the error" ||
  not_ok "1: status $(head -c 800 "$TMP/st.json")"

# ---- 2, its end ----
wait "$BIG"
rc=$?
line=$(final big)
echo "# 2: $line"
shown=$(grep -A1 ' INITIALIZING ' "$TMP/big.err")
grep -q '^ *waiting: 0/1 nodes are available: 1 Insufficient memory' <<<"$shown" &&
  ok "2: INITIALIZING with the scheduler's reason on stderr" || { not_ok "2: no waiting reason on stderr"; cat "$TMP/big.err"; }
case "$line" in
  "TIMED_OUT: task timed out after 2m0s (task timeout); the driver pod was still waiting: 0/1 nodes are available: 1 Insufficient memory"*)
    [ $rc -eq 5 ] && ok "2: TIMED_OUT naming the reason, exit 5" || not_ok "2: TIMED_OUT but exit $rc, want 5" ;;
  *) not_ok "2: final line '$line' (exit $rc)"; tail -n 20 "$TMP/big.err" ;;
esac
nothing_left "1 and 2"

# ---- 3 ----
run_bg exec "$DATA/lose-executor.yaml"
EXEC=$BG
wait_for 60 id_of exec && EXEC_ID=$ID || not_ok "3: no execution id: $(cat "$TMP/exec.err")"
wait_for 400 phase_is "$EXEC_ID" RUNNING && APP=$(jfield "$TMP/st.json" resource_name) && ok "3: RUNNING ($APP)" ||
  not_ok "3: never RUNNING: $(tail -n 10 "$TMP/exec.err")"
mid_job() { pod_phase "$APP-exec-1" Running && pod_phase "$APP-exec-2" Running && grep -q '^executors that ran tasks' "$TMP/exec.out"; }
if wait_for 300 mid_job; then
  api DELETE "/api/v1/namespaces/$NS/pods/$APP-exec-1"
  [ "$CODE" = 200 ] && ok "3: deleted executor pod $APP-exec-1 mid-job" || not_ok "3: DELETE exec-1: $CODE $(head -c 300 "$TMP/body")"
else
  not_ok "3: never two executors running tasks: $(tail -n 5 "$TMP/exec.out")"
fi
wait "$EXEC"
rc=$?
echo "# 3: $(final exec)"
[ $rc -eq 0 ] && case "$(final exec)" in "SUCCEEDED ("*) true ;; *) false ;; esac && ok "3: SUCCEEDED" ||
  not_ok "3: exit $rc: $(tail -n 10 "$TMP/exec.err")"
grep -q '^a replacement executor ran tasks' "$TMP/exec.out" && ok "3: $(grep '^executors that ran tasks' "$TMP/exec.out" | tail -n 1)" ||
  not_ok "3: no replacement executor in the driver log: $(tail -n 5 "$TMP/exec.out")"
nothing_left 3

# ---- 4 ----
# `spok run` streams each attempt's driver log in turn (stdout); --keep: the second attempt's
# log is also read after the run with `spok logs`.
run_bg drv "$DATA/driver-loss.yaml" --keep
DRV=$BG
wait_for 60 id_of drv && DRV_ID=$ID || not_ok "4: no execution id: $(cat "$TMP/drv.err")"
wait_for 400 phase_is "$DRV_ID" RUNNING && APP0=$(jfield "$TMP/st.json" resource_name) && ok "4: RUNNING ($APP0)" ||
  not_ok "4: never RUNNING: $(tail -n 10 "$TMP/drv.err")"
waiting_to_go() { grep -q '^attempt 0: waiting for the test to delete this driver pod' "$TMP/drv.out"; }
if wait_for 300 waiting_to_go; then
  api DELETE "/api/v1/namespaces/$NS/pods/$APP0-driver"
  [ "$CODE" = 200 ] && ok "4: deleted driver pod $APP0-driver mid-job" || not_ok "4: DELETE driver: $CODE $(head -c 300 "$TMP/body")"
else
  not_ok "4: the driver never said it waits: $(tail -n 5 "$TMP/drv.out")"
fi
wait "$DRV"
rc=$?
line=$(final drv)
echo "# 4: $line"
[ $rc -eq 0 ] && case "$line" in "SUCCEEDED"*"(attempt 2 of 2)") true ;; *) false ;; esac &&
  ok "4: SUCCEEDED on attempt 2" || not_ok "4: exit $rc, '$line'"
# The operator's own words for it (observed: "driver container failed with ExitCode: 143").
why=$(awk -v id="$DRV_ID" '$2 == id && $3 == "RETRYABLE_FAILURE" { getline; print; exit }' "$TMP/drv.err")
[ -n "$why" ] && ok "4: attempt 1 RETRYABLE_FAILURE: $(echo $why | cut -c1-120)" ||
  not_ok "4: no RETRYABLE_FAILURE of attempt 1: $(cat "$TMP/drv.err")"
grep -q '^attempt 1: sum 499500' "$TMP/drv.out" && ok "4: spok run streamed attempt 2's driver log too" ||
  not_ok "4: attempt 2's driver log is not on spok run's stdout: $(tail -n 3 "$TMP/drv.out")"
"$SPOK" logs "$DRV_ID" >"$TMP/drv.log" 2>"$TMP/drv.log.err"
grep -q '^attempt 1: sum 499500' "$TMP/drv.log" && ok "4: attempt 2's driver log: $(grep '^attempt 1:' "$TMP/drv.log")" ||
  not_ok "4: spok logs: $(tail -n 3 "$TMP/drv.log") $(cat "$TMP/drv.log.err")"
# The failed attempt's object is kept for debugging (spok's rule), the last one by --keep.
status_json "$DRV_ID"
APP1=$(jfield "$TMP/st.json" resource_name)
for a in "$APP0" "$APP1"; do api DELETE "/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications/$a"; done
nothing_left 4
finish
