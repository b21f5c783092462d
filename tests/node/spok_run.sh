#!/usr/bin/env bash
# tests/node/spok_run.sh SPOK - `spok run JOB --cluster admin` on the real node with the real
# operator: the driver pod's real log (with "Pi is roughly 3.14...") streams to stdout, phases
# QUEUED -> INITIALIZING -> RUNNING -> SUCCEEDED are recorded with timestamps, two executor
# pods really ran, and the run leaves nothing behind in its namespace. The first run is
# examples/pi/pi.yaml as written (mainApplicationFile: pi.py, a file on this machine, shipped
# in a ConfigMap); only its image line is swapped for the image built here (no registry).
set -uo pipefail
SPOK=${1:?usage: spok_run.sh SPOK}
. "$(dirname "$0")/lib.sh"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
# The platform config an admin of this small cluster would write: the image built here, the
# Spark version the CRD wants, and CPU requests that fit driver + 2 executors on 2 cores.
cat >"$TMP/spok.yaml" <<YAML
spok:
  default-image: $IMAGE
  spark-version: "4.0.5"
plugins:
  spark:
    spark-config-default:
      spark.kubernetes.driver.request.cores: "250m"
      spark.kubernetes.executor.request.cores: "250m"
      # executor pods stay until their driver pod goes (garbage collection), so their logs
      # can be read after the job
      spark.kubernetes.executor.deleteOnTermination: "false"
YAML
watch_to "$TMP/pods.watch" "/api/v1/namespaces/$NS/pods?watch=1&labelSelector=spark-role%3Dexecutor"
watch_to "$TMP/cms.watch" "/api/v1/namespaces/$NS/configmaps?watch=1&labelSelector=spok.dev%2Fexecution"
sleep 1
mkdir -p "$TMP/pi"
sed "s#^image: .*#image: $IMAGE#" "$SRC/examples/pi/pi.yaml" >"$TMP/pi/pi.yaml"
cp "$SRC/examples/pi/pi.py" "$TMP/pi/pi.py"
grep -q '^mainApplicationFile: pi.py$' "$TMP/pi/pi.yaml" || not_ok "examples/pi/pi.yaml no longer names pi.py"
(cd "$TMP" && "$SPOK" run "$TMP/pi/pi.yaml" --cluster admin -n "$NS" --config "$TMP/spok.yaml") \
  >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && ok "spok run --cluster exit 0" || { not_ok "spok run exit $rc"; tail -n 20 "$TMP/err"; }
if pi=$(grep -o 'Pi is roughly 3\.1[2-6][0-9]*' "$TMP/out"); then ok "stdout has the driver's ${pi%%$'\n'*}"
else not_ok "no 'Pi is roughly 3.14' on stdout; tail:"; tail -n 15 "$TMP/out" | cut -c1-300; fi
ID=$(sed -n 's/^spok: execution \(sp-[^:]*\): SparkApplication.*/\1/p' "$TMP/err"); ID=${ID%%$'\n'*}
[ -n "$ID" ] && ok "execution $ID" || not_ok "no execution id in stderr: $(head -c 400 "$TMP/err")"
phases=$(awk -v id="$ID" '$2 == id { print $3 }' "$TMP/err" | uniq | tr '\n' ' ')
echo "# phases on stderr: $phases"
case " $phases " in *" QUEUED "*"INITIALIZING "*"RUNNING "*"SUCCEEDED "*) ok "phases QUEUED -> INITIALIZING -> RUNNING -> SUCCEEDED" ;;
  *) not_ok "phases '$phases'"; head -n 30 "$TMP/err" ;; esac
"$SPOK" status "$ID" -o json >"$TMP/status.json" 2>"$TMP/status.err"
[ "$(jfield "$TMP/status.json" phase)" = SUCCEEDED ] && ok "recorded phase SUCCEEDED" ||
  not_ok "status: $(head -c 600 "$TMP/status.json") $(cat "$TMP/status.err")"
python3 - "$TMP/status.json" <<'PY' && ok "recorded created < started < finished (real timestamps)" || not_ok "timestamps: $(head -c 800 "$TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
c, st, f = (s.get(k) or 0 for k in ("created_ms", "started_ms", "finished_ms"))
sys.exit(0 if 0 < c <= st < f else 1)
PY
running=$(python3 - "$TMP/pods.watch" <<'PY'
import json, sys
names = set()
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)["object"]
    except Exception:
        continue
    if o.get("status", {}).get("phase") == "Running":
        names.add(o["metadata"]["name"])
print(len(names))
PY
)
[ "$running" -ge 2 ] && ok "$running executor pods were Running" || not_ok "$running executor pods seen Running, want 2"
APP=$(jfield "$TMP/status.json" resource_name)
shipped=$(python3 - "$TMP/cms.watch" "$APP-files" <<'PY'
import json, sys
seen = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except Exception:
        continue
    if e["object"]["metadata"]["name"] == sys.argv[2]:
        seen.append(e["type"])
print(" ".join(seen))
PY
)
case " $shipped " in *" ADDED "*" DELETED "*) ok "pi.py shipped in ConfigMap $APP-files, deleted at teardown" ;;
  *) not_ok "ConfigMap $APP-files events: '$shipped'" ;; esac
left() {
  local k
  for k in pods services configmaps; do
    api GET "/api/v1/namespaces/$NS/$k"
    python3 -c 'import json,sys
for o in json.load(open(sys.argv[1])).get("items", []):
    n = o["metadata"]["name"]
    if n != "kube-root-ca.crt": print(sys.argv[2] + "/" + n)' "$TMP/body" "$k"
  done
  api GET "/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
  grep -o '"name":"\(pi-node\|sp-\)[^"]*"' "$TMP/body"
}
empty() { [ -z "$(left)" ]; }
wait_for 120 empty && ok "nothing left in $NS after the run" || not_ok "left after the run: $(left | tr '\n' ' ')"

# --keep, and Spark told to keep its executor pods: after the run `spok logs ID` reads the
# driver's log and `spok logs ID --executor N` each executor's, through the kubelet.
"$SPOK" run "$SRC/tests/node/data/pi-image.yaml" --cluster admin -n "$NS" --config "$TMP/spok.yaml" \
  --keep -q >"$TMP/out2" 2>"$TMP/err2" ||
  not_ok "spok run --keep exit $?: $(tail -n 5 "$TMP/err2")"
ID2=$(sed -n 's/^spok: execution \(sp-[^:]*\): SparkApplication.*/\1/p' "$TMP/err2"); ID2=${ID2%%$'\n'*}
"$SPOK" logs "$ID2" >"$TMP/dlog" 2>"$TMP/dlog.err"
grep -q 'Pi is roughly 3\.1[2-6]' "$TMP/dlog" && ok "spok logs $ID2: the driver's log after the run" ||
  not_ok "spok logs: $(tail -n 3 "$TMP/dlog") $(cat "$TMP/dlog.err")"
for n in 1 2; do
  "$SPOK" logs "$ID2" --executor "$n" >"$TMP/elog$n" 2>"$TMP/elog$n.err"
  grep -q 'Successfully registered with driver' "$TMP/elog$n" && ok "spok logs --executor $n: that executor's log" ||
    not_ok "spok logs --executor $n: $(tail -n 3 "$TMP/elog$n") $(cat "$TMP/elog$n.err")"
done
"$SPOK" logs "$ID2" --executor 3 >/dev/null 2>"$TMP/elog3.err"
rc=$?
[ $rc -ne 0 ] && grep -q 'executor pod .*-exec-3 does not exist' "$TMP/elog3.err" &&
  ok "spok logs --executor 3: clear error ($(head -c 120 "$TMP/elog3.err"))" || not_ok "--executor 3: rc $rc $(cat "$TMP/elog3.err")"
APP2=$("$SPOK" status "$ID2" -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("resource_name") or "")')
api DELETE "/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications/$APP2"
wait_for 120 empty && ok "kept run deleted: nothing left" || not_ok "left after deleting the kept run: $(left | tr '\n' ' ')"
finish
