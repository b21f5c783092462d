#!/usr/bin/env bash
# tests/node/flyte.sh SPOK - a flytekit task from `pyflyte package`, run unmodified on the node
# through `spok run PKG --cluster` with the real operator and the Flyte image
# (scripts/build-image flyte): examples/flytekit/pi.py packaged here with that image,
# `--input partitions=2`, inputs.pb and outputs on the node's flyte-data hostPath volume
# (spok.flyte-data), the task's module copied there from --python-path.
#   1. partitions=2: exit 0, the task's output {"o0": 3.1...} on stdout and stored, the rendered
#      args point into the volume, the driver and both executors really ran;
#   2. partitions=0: the task raises, flytekit writes error.pb and the driver exits 0: spok
#      records PERMANENT_FAILURE with flytekit's error (not SUCCEEDED), exit code 1; the failed
#      SparkApplication is kept for debugging (spok's rule) until the test deletes it.
# Nothing of either run is left in the namespace.
set -uo pipefail
SPOK=${1:?usage: flyte.sh SPOK}
. "$(dirname "$0")/lib.sh"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
IMAGE=${SPOK_TEST_SPARK_FLYTE_IMAGE:?no flyte image in the node env; run scripts/build-image flyte}
ROOT=${SPOK_TEST_FLYTE_DATA_DIR:?no flyte-data dir in the node env; scripts/k8s up --node makes one}
VENV=$SRC/.cache/venv
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
FD=$(mktemp -d "$ROOT/node-flyte.XXXXXX") && chmod 0755 "$FD" ||
  { not_ok "cannot make a flyte-data dir under $ROOT"; finish; exit 1; }
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP" "$FD"' EXIT
cat >"$TMP/spok.yaml" <<YAML
spok:
  spark-version: "4.0.5"
  flyte-data:
    dir: /var/spok/flyte
    volume:
      hostPath: {path: $FD, type: Directory}
plugins:
  spark:
    spark-config-default:
      spark.kubernetes.driver.request.cores: "250m"
      spark.kubernetes.executor.request.cores: "250m"
YAML

# The task packaged as a user would, with the image it runs in.
mkdir -p "$TMP/fk" && cp "$SRC/examples/flytekit/pi.py" "$TMP/fk/"
if (cd "$TMP/fk" && PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/pyflyte" --pkgs pi package \
      --image "$IMAGE" -f -o "$TMP/pkg.tgz") >"$TMP/pkg.log" 2>&1; then
  ok "pyflyte package --image $IMAGE"
else
  not_ok "pyflyte package: $(tail -n 5 "$TMP/pkg.log")"; finish; exit 1
fi

# run_task NAME PARTITIONS: `spok run` from another folder; sets RC and ID.
run_task() {
  (cd "$TMP" && "$SPOK" run "$TMP/pkg.tgz" --task hello_spark --input "partitions=$2" \
     --python-path "$TMP/fk" --cluster admin -n "$NS" --config "$TMP/spok.yaml") \
    >"$TMP/$1.out" 2>"$TMP/$1.err"
  RC=$?
  ID=$(sed -n 's/^spok: execution \(sp-[^:]*\): SparkApplication.*/\1/p' "$TMP/$1.err"); ID=${ID%%$'\n'*}
  "$SPOK" status "$ID" -o json >"$TMP/$1.status" 2>/dev/null
}

# 1. partitions=2
run_task pi 2
[ $RC -eq 0 ] && ok "pi: spok run --cluster exit 0" ||
  { not_ok "pi: exit $RC"; tail -n 20 "$TMP/pi.err" | cut -c1-300; }
[ "$(jfield "$TMP/pi.status" phase)" = SUCCEEDED ] && ok "pi: $ID recorded SUCCEEDED" ||
  not_ok "pi: status $(head -c 600 "$TMP/pi.status")"
if python3 - "$TMP/pi.status" "$TMP/pi.out" <<'PY'
import json, sys
x = json.load(open(sys.argv[1]))
out = x.get("outputs")
assert isinstance(out, dict) and 3.0 < out["o0"] < 3.3, out
last = [l for l in open(sys.argv[2]).read().splitlines() if l.strip()][-1]
assert json.loads(last) == out, (last, out)
PY
then ok "pi: outputs $(jfield "$TMP/pi.status" outputs) stored and printed last on stdout"
else not_ok "pi: outputs: $(jfield "$TMP/pi.status" outputs); stdout tail: $(tail -n 2 "$TMP/pi.out")"
fi
[ -s "$FD/$ID/inputs.pb" ] && [ -s "$FD/$ID/outputs/0/outputs.pb" ] && [ -f "$FD/$ID/code/pi.py" ] &&
  ok "pi: inputs.pb, code/pi.py and outputs/0/outputs.pb on the volume" ||
  not_ok "pi: volume holds: $(cd "$FD" && find . -maxdepth 4 | tr '\n' ' ')"
grep -q "SparkContext: Running Spark version" "$TMP/pi.out" && ok "pi: the driver's log streamed to stdout" ||
  not_ok "pi: no driver log on stdout: $(head -c 300 "$TMP/pi.out")"
wait_for 120 none_of "$ID" && ok "pi: nothing of $ID left in $NS" ||
  not_ok "pi: left: $(left_of "$ID" | tr '\n' ' ')"

# 2. partitions=0: the task raises.
run_task fail 0
[ $RC -eq 1 ] && ok "fail: exit 1 (the job failed)" ||
  { not_ok "fail: exit $RC"; tail -n 20 "$TMP/fail.err" | cut -c1-300; }
phase=$(jfield "$TMP/fail.status" phase) reason=$(jfield "$TMP/fail.status" reason)
[ "$phase" = PERMANENT_FAILURE ] && [[ "$reason" == USER* ]] &&
  ok "fail: PERMANENT_FAILURE, reason from error.pb: ${reason:0:160}" ||
  not_ok "fail: $phase: $reason"
[ -s "$FD/$ID/outputs/0/error.pb" ] && ok "fail: error.pb on the volume" ||
  not_ok "fail: no error.pb under $FD/$ID"
APP=$(jfield "$TMP/fail.status" resource_name)
api DELETE "/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications/$APP"
[ "$CODE" = 200 ] && ok "fail: the failed app $APP was kept; deleted it" ||
  not_ok "fail: DELETE $APP: $CODE $(head -c 300 "$TMP/body")"
wait_for 120 none_of "$ID" && ok "fail: nothing of $ID left in $NS" ||
  not_ok "fail: left: $(left_of "$ID" | tr '\n' ' ')"
finish
