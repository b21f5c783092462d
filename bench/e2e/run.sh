#!/usr/bin/env bash
# bench/e2e/run.sh [RUNS] - SparkPi end to end on the REAL test node (scripts/k8s up --node
# --with-operator, started and torn down here), `spok run --cluster` RUNS times (default 3),
# each split by API watch timestamps into
#   submit      spok run started -> SparkApplication created
#   sparksubmit created -> SUBMITTED (the operator's spark-submit JVM made the driver pod)
#   driver      SUBMITTED -> driver pod Running
#   executors   driver Running -> both executor pods Running
#   job         executors Running -> application COMPLETED
#   teardown    COMPLETED -> the last pod of the run deleted
# and next to it the same program (pyspark's examples pi.py, same argument) run RUNS times by
# `spok run` locally. Medians; the last line starts with "summary:". Not part of ctest.
# Needs root, scripts/setup (k8s, image) and a built spok ($SPOK, default build/spok, else
# build-asan/src/cli/spok). This is the baseline the warm-pool and JVM-free work is measured
# against.
set -euo pipefail
RUNS=${1:-3}
case "$RUNS" in ''|*[!0-9]*|0) echo "usage: bench/e2e/run.sh [RUNS>=1]" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SPOK=${SPOK:-}
[ -n "$SPOK" ] || for s in "$ROOT/build/src/cli/spok" "$ROOT/build-gcc/src/cli/spok" "$ROOT/build-asan/src/cli/spok"; do
  [ -x "$s" ] && { SPOK=$s; break; }
done
[ -x "${SPOK:-}" ] || { echo "e2e: no spok binary; run scripts/build (or set SPOK)" >&2; exit 1; }
DIR=$(mktemp -d /tmp/spok-e2e.XXXXXX)
TMP=$DIR/bench
mkdir -p "$TMP"
WPIDS=()
cleanup() {
  for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "$ROOT/scripts/k8s" down --purge "$DIR" >&2 || echo "e2e: node teardown failed; see above" >&2
}
trap cleanup EXIT
export SPOK_DATA_DIR=$TMP/data HOME=$TMP XDG_CONFIG_HOME=$TMP/config

echo "e2e: starting the node (scripts/k8s up --node --with-operator $DIR)" >&2
"$ROOT/scripts/k8s" up --fresh --node --with-operator "$DIR"
while IFS='=' read -r k v; do [ -n "$k" ] && export "$k=$v"; done <"$DIR/env"
NS=$SPOK_TEST_OPERATOR_NAMESPACE
cat >"$TMP/spok.yaml" <<YAML
spok:
  default-image: $SPOK_TEST_SPARK_IMAGE
  spark-version: "4.0.5"
plugins:
  spark:
    spark-config-default:
      spark.kubernetes.driver.request.cores: "250m"
      spark.kubernetes.executor.request.cores: "250m"
YAML
set -- "$ROOT"/.cache/venv/lib/python3*/site-packages/pyspark/examples/src/main/python/pi.py
PI_PY=$1
sed "s|^mainApplicationFile: .*|mainApplicationFile: $PI_PY|; s|^name: .*|name: pi-local|" \
  "$ROOT/tests/node/data/pi-image.yaml" >"$TMP/pi-local.yaml"

# tswatch FILE PATH: a watch whose every line is prefixed with its arrival time (s).
tswatch() {
  curl -sS -N -A spok-bench --max-time 1800 --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
    --key "$SPOK_TEST_ADMIN_KEY" "$SPOK_TEST_APISERVER$2" 2>/dev/null |
    python3 -u -c 'import sys, time
for l in sys.stdin: sys.stdout.write("%.3f %s" % (time.time(), l))' >"$1" &
  WPIDS+=($!)
}

now() { python3 -c 'import time; print("%.3f" % time.time())'; }
splits=()
for i in $(seq 1 "$RUNS"); do
  tswatch "$TMP/app$i" "/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications?watch=1"
  tswatch "$TMP/pods$i" "/api/v1/namespaces/$NS/pods?watch=1"
  sleep 1
  t0=$(now)
  "$SPOK" run "$ROOT/tests/node/data/pi-image.yaml" --cluster admin -n "$NS" --config "$TMP/spok.yaml" -q \
    >"$TMP/out$i" 2>"$TMP/err$i" || { echo "e2e: run $i failed:" >&2; tail -n 20 "$TMP/err$i" >&2; exit 1; }
  # wait (bounded) until every pod of the run is gone
  for _ in $(seq 1 240); do
    python3 - "$TMP/pods$i" <<'PY' && break
import json, sys
live = {}
for line in open(sys.argv[1]):
    t, _, j = line.partition(" ")
    try: e = json.loads(j)
    except ValueError: continue
    live[e["object"]["metadata"]["name"]] = e["type"] != "DELETED"
sys.exit(0 if live and not any(live.values()) else 1)
PY
    sleep 0.5
  done
  for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  WPIDS=()
  line=$(python3 - "$t0" "$TMP/app$i" "$TMP/pods$i" <<'PY'
import json, sys
t0 = float(sys.argv[1])
created = submitted = completed = None
for line in open(sys.argv[2]):
    t, _, j = line.partition(" ")
    try: e = json.loads(j)
    except ValueError: continue
    t = float(t)
    st = (e["object"].get("status") or {}).get("applicationState", {}).get("state")
    if e["type"] == "ADDED" and created is None: created = t
    if st == "SUBMITTED" and submitted is None: submitted = t
    if st == "COMPLETED" and completed is None: completed = t
driver = None; execs = {}; last_del = None
for line in open(sys.argv[3]):
    t, _, j = line.partition(" ")
    try: e = json.loads(j)
    except ValueError: continue
    t = float(t); o = e["object"]
    role = o["metadata"].get("labels", {}).get("spark-role")
    if e["type"] == "DELETED": last_del = t
    if (o.get("status") or {}).get("phase") == "Running":
        if role == "driver" and driver is None: driver = t
        if role == "executor": execs.setdefault(o["metadata"]["name"], t)
ex = sorted(execs.values())
if None in (created, submitted, completed, driver, last_del) or len(ex) < 2:
    print("incomplete"); sys.exit(0)
s = [created - t0, submitted - created, driver - submitted, ex[1] - driver, completed - ex[1],
     last_del - completed, last_del - t0]
print(" ".join("%.1f" % x for x in s))
PY
)
  [ "$line" != incomplete ] || { echo "e2e: run $i: watch timestamps incomplete" >&2; exit 1; }
  splits+=("$line")
  printf 'node run %d: submit %s  spark-submit %s  driver-running %s  executors-running %s  job %s  teardown %s  total %s s\n' \
    "$i" $line
done

local_s=()
for i in $(seq 1 "$RUNS"); do
  t0=$(now)
  "$SPOK" run "$TMP/pi-local.yaml" -q >"$TMP/lout$i" 2>"$TMP/lerr$i" ||
    { echo "e2e: local run $i failed:" >&2; tail -n 20 "$TMP/lerr$i" >&2; exit 1; }
  t1=$(now)
  local_s+=("$(python3 -c "print('%.1f' % ($t1 - $t0))")")
  echo "local run $i: ${local_s[-1]} s"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { local c=$1 l; for l in "${splits[@]}"; do echo "$l" | cut -d' ' -f"$c"; done; }
m=()
for c in 1 2 3 4 5 6 7; do m+=("$(median $(col "$c"))"); done
printf 'summary: node e2e median %ss (submit %s, spark-submit %s, driver running %s, executors running %s, job %s, torn down %s) vs local spok run median %ss, %d runs each\n' \
  "${m[6]}" "${m[0]}" "${m[1]}" "${m[2]}" "${m[3]}" "${m[4]}" "${m[5]}" "$(median "${local_s[@]}")" "$RUNS"
