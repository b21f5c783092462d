#!/usr/bin/env bash
# tests/node/jobs.sh SPOK - jobs whose code lives on this machine, run for real through
# `spok run JOB --cluster` on the node with the real operator, nothing built into an image:
#   1. tests/node/data/deps: a PySpark job with pyFiles (a module imported on the driver and in
#      every task) and files (read on the driver and the executors), all three shipped in one
#      ConfigMap;
#   2. examples/java as written (SparkPi, mainApplicationFile sparkpi.jar built here by
#      examples/java/build.sh, the jar shipped as ConfigMap binaryData): the driver's real
#      log says "Pi is roughly 3.14...".
# Each run: exit 0, the answer on stdout, SUCCEEDED recorded, the ConfigMap held the files
# and nothing of the run is left in the namespace. One executor each (2 cores).
set -uo pipefail
SPOK=${1:?usage: jobs.sh SPOK}
. "$(dirname "$0")/lib.sh"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
# The platform config of tests/node/spok_run.sh: the image built here, the Spark version the
# CRD wants, CPU requests that fit 2 cores, one executor unless a job asks for more.
cat >"$TMP/spok.yaml" <<YAML
spok:
  default-image: $IMAGE
  spark-version: "4.0.5"
plugins:
  spark:
    spark-config-default:
      spark.kubernetes.driver.request.cores: "250m"
      spark.kubernetes.executor.request.cores: "250m"
      spark.executor.instances: "1"
YAML
watch_to "$TMP/cms.watch" "/api/v1/namespaces/$NS/configmaps?watch=1&labelSelector=spok.dev%2Fexecution"
sleep 1

# run_job NAME JOBFILE: `spok run --cluster` from another directory; sets ID and APP.
run_job() {
  local name=$1 job=$2 rc
  (cd "$TMP" && "$SPOK" run "$job" --cluster admin -n "$NS" --config "$TMP/spok.yaml") \
    >"$TMP/$name.out" 2>"$TMP/$name.err"
  rc=$?
  [ $rc -eq 0 ] && ok "$name: spok run --cluster exit 0" ||
    { not_ok "$name: spok run exit $rc"; tail -n 20 "$TMP/$name.err" | cut -c1-300; }
  ID=$(sed -n 's/^spok: execution \(sp-[^:]*\): SparkApplication.*/\1/p' "$TMP/$name.err"); ID=${ID%%$'\n'*}
  "$SPOK" status "$ID" -o json >"$TMP/$name.status" 2>/dev/null
  [ "$(jfield "$TMP/$name.status" phase)" = SUCCEEDED ] && ok "$name: $ID recorded SUCCEEDED" ||
    not_ok "$name: status $(head -c 600 "$TMP/$name.status")"
  APP=$(jfield "$TMP/$name.status" resource_name)
}

# shipped_keys APP: the binaryData keys of the ConfigMap <APP>-files as the watch saw it.
shipped_keys() {
  python3 - "$TMP/cms.watch" "$1-files" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except Exception:
        continue
    if e["type"] == "ADDED" and e["object"]["metadata"]["name"] == sys.argv[2]:
        print(" ".join(sorted(e["object"].get("binaryData", {}))))
        break
PY
}

# 1. pyFiles and files.
run_job deps "$SRC/tests/node/data/deps/deps.yaml"
if line=$(grep -o 'deps ok: .*' "$TMP/deps.out"); then
  [ "${line%%$'\n'*}" = "deps ok: helper-from-pyFiles driver=3 executors=[3, 3]" ] &&
    ok "deps: module and file on the driver and in both tasks: ${line%%$'\n'*}" ||
    not_ok "deps: ${line%%$'\n'*}"
else
  not_ok "deps: no 'deps ok' on stdout; tail:"; tail -n 25 "$TMP/deps.out" | cut -c1-300
fi
keys=$(shipped_keys "$APP")
[ "$keys" = "deps_job.py helper.py words.txt" ] && ok "deps: ConfigMap $APP-files held $keys" ||
  not_ok "deps: ConfigMap $APP-files keys '$keys'"
wait_for 120 none_of "$ID" && ok "deps: nothing of $ID left in $NS" || not_ok "deps: left: $(left_of "$ID" | tr '\n' ' ')"

# 2. The Java example: the jar is built here and shipped; only the image line is swapped.
mkdir -p "$TMP/java"
if bash "$SRC/examples/java/build.sh" "$TMP/java" >"$TMP/javac.log" 2>&1; then
  ok "examples/java/build.sh: sparkpi.jar ($(stat -c %s "$TMP/java/sparkpi.jar") bytes)"
else
  not_ok "examples/java/build.sh: $(tail -n 5 "$TMP/javac.log")"
fi
sed "s#^image: .*#image: $IMAGE#" "$SRC/examples/java/sparkpi.yaml" >"$TMP/java/sparkpi.yaml"
grep -q '^mainApplicationFile: sparkpi.jar$' "$TMP/java/sparkpi.yaml" ||
  not_ok "examples/java/sparkpi.yaml no longer names sparkpi.jar"
run_job java "$TMP/java/sparkpi.yaml"
if pi=$(grep -o 'Pi is roughly 3\.1[2-6][0-9]*' "$TMP/java.out"); then
  ok "java: stdout has the driver's ${pi%%$'\n'*}"
else
  not_ok "java: no 'Pi is roughly 3.14' on stdout; tail:"; tail -n 25 "$TMP/java.out" | cut -c1-300
fi
keys=$(shipped_keys "$APP")
[ "$keys" = "sparkpi.jar" ] && ok "java: sparkpi.jar shipped as binaryData of $APP-files" ||
  not_ok "java: ConfigMap $APP-files keys '$keys'"
wait_for 120 none_of "$ID" && ok "java: nothing of $ID left in $NS" || not_ok "java: left: $(left_of "$ID" | tr '\n' ' ')"
finish
