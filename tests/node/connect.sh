#!/usr/bin/env bash
# tests/node/connect.sh SPOK - a Kubernetes warm pool on the real node (spok.pools[].kubernetes,
# src/connect/kube.c), in a namespace `spok cluster sync` prepared (its ServiceAccount spark):
#   1. `spok session start`: one server pod (the Spark Connect server as a client-mode driver,
#      from the image built here), its Service and its token Secret (owned by the pod); the
#      sc:// URL is the pod's IP with the token as its authorization parameter; a client
#      without the token, or with another, is refused (UNAUTHENTICATED).
#   2. `spok run JOB --warm` against the pool: the client runs here, a count over 10^6
#      generated rows is right; executor pods (owned by the server pod) appear for it and go
#      after the pool's executor idle timeout (dynamic allocation down to min-executors 0).
#   3. kill -9 of the supervisor mid-life: the row is settled FAILED, the pod stays; the next
#      start adopts it (the same pod, exactly one server pod) and a warm job runs on it.
#   4. `spok session stop`: server pod, Service, token Secret and executor pods gone.
#   5. the server pod deleted through the API: the session is FAILED and `spok session url`
#      starts a new one; then kill -9 of the supervisor and stop: stop deletes what the dead
#      supervisor left.
#   6. the server pod deleted mid warm job: the attempt fails RETRYABLE at once, the retry
#      runs on a restarted server.
#   7. `spok serve`'s POST /api/v1/sessions/kp/stop of a session whose supervisor died: its
#      pod and Service are deleted, STOPPED.
#   8. an orphaned server pod (its supervisor died, unused past its idle-timeout) is deleted
#      by the next supervisor of the namespace; its row says so.
set -uo pipefail
SPOK=${1:?usage: connect.sh SPOK}
. "$(dirname "$0")/lib.sh"
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
NS=spokconnect-development
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  api DELETE "/api/v1/namespaces/$NS"; rm -rf "$TMP"' EXIT
T_ALL=$SECONDS

"$SPOK" cluster sync --cluster admin --templates "$SRC/deploy/cluster-resources" --project spokconnect \
  --domain development --set spark-quota-cpu=4 --set spark-quota-memory=16Gi --set spark-quota-pods=20 \
  --set spark-quota-apps=5 >"$TMP/sync.out" 2>&1 &&
  ok "spok cluster sync: namespace $NS, ServiceAccount spark, its Role" ||
  { not_ok "spok cluster sync: $(cat "$TMP/sync.out")"; finish; exit 1; }

cat >"$TMP/spok.yaml" <<YAML
spok:
  default-image: $IMAGE
  pools:
    - name: kp
      kubernetes: {namespace: $NS, context: admin}
      idle-timeout: 10m
      min-executors: 0
      max-executors: 1
      spark-conf:
        spark.kubernetes.driver.request.cores: "250m"
        spark.kubernetes.executor.request.cores: "250m"
        spark.driver.memory: "768m"
        spark.executor.memory: "768m"
        spark.dynamicAllocation.executorIdleTimeout: "10s"
YAML
export SPOK_CONFIG=$TMP/spok.yaml
cat >"$TMP/count.py" <<'PY'
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
print("count", spark.range(10**6).selectExpr("id % 7 as k").groupBy("k").count().selectExpr("sum(count)").collect()[0][0])
PY
printf 'name: count\ntype: PYTHON\nmainApplicationFile: %s\n' "$TMP/count.py" >"$TMP/count.yaml"

# servers: the session's server pods, "name uid phase deleting" a line
servers() {
  api GET "/api/v1/namespaces/$NS/pods?labelSelector=spok.dev%2Fsession%3Dkp,spok.dev%2Fcomponent%3Dconnect-server"
  python3 -c 'import json,sys
for p in json.load(open(sys.argv[1])).get("items", []):
    md = p["metadata"]
    print(md["name"], md["uid"], p.get("status", {}).get("phase"), "deleting" if md.get("deletionTimestamp") else "-")' "$TMP/body"
}
executors() { # executor pods of the session, one name a line
  api GET "/api/v1/namespaces/$NS/pods?labelSelector=spok.dev%2Fsession%3Dkp,spark-role%3Dexecutor"
  python3 -c 'import json,sys
for p in json.load(open(sys.argv[1])).get("items", []): print(p["metadata"]["name"])' "$TMP/body"
}
no_executors() { [ -z "$(executors)" ]; }
services() { # the session's Services (named spok-STORE-kp), one name a line
  api GET "/api/v1/namespaces/$NS/services?labelSelector=spok.dev%2Fsession%3Dkp"
  python3 -c 'import json,sys
for p in json.load(open(sys.argv[1])).get("items", []): print(p["metadata"]["name"])' "$TMP/body"
}
service_gone() { [ -z "$(services)" ]; }
all_gone() { [ -z "$(servers)" ] && no_executors && service_gone; }
row() { # row FIELD: of `spok session list -o json`'s kp
  "$SPOK" session list -o json >"$TMP/list.json" 2>"$TMP/list.err"
  python3 -c 'import json,sys
for s in json.load(open(sys.argv[1])):
    if s["name"] == "kp": print(s.get(sys.argv[2]))' "$TMP/list.json" "$1"
}
warm_run() { # warm_run TAG: spok run count --warm on pool kp; ok when the count is right
  local t0=$SECONDS rc
  (cd "$TMP" && "$SPOK" run "$TMP/count.yaml" --warm --pool kp) >"$TMP/run-$1.out" 2>"$TMP/run-$1.err"
  rc=$?
  if [ $rc -eq 0 ] && grep -qx 'count 1000000' "$TMP/run-$1.out"; then
    ok "$1: spok run --warm on pool kp: count 1000000 ($((SECONDS - t0)) s)"
  else
    not_ok "$1: spok run --warm exit $rc"; tail -n 20 "$TMP/run-$1.out" "$TMP/run-$1.err" | cut -c1-300
  fi
}

# ---- 1. start ----
watch_to "$TMP/exec.watch" "/api/v1/namespaces/$NS/pods?watch=1&labelSelector=spok.dev%2Fsession%3Dkp,spark-role%3Dexecutor"
t0=$SECONDS
"$SPOK" session start kp >"$TMP/start1.out" 2>"$TMP/start1.err"
rc=$?
URL=$(cat "$TMP/start1.out")
case "$rc $URL" in
  "0 sc://10.244.0."*":15002/;user_id="*";authorization=Bearer%20"*) ok "spok session start kp: ${URL%%;authorization=*} ($((SECONDS - t0)) s)" ;;
  *) not_ok "spok session start kp: exit $rc, '$URL'"; cat "$TMP/start1.err"; cat "$TMP/data/sessions/kp/server.log" 2>/dev/null
     servers; finish; exit 1 ;;
esac
S1=$(servers)
[ "$(printf '%s\n' "$S1" | wc -l)" -eq 1 ] && case "$S1" in *" Running -") true ;; *) false ;; esac &&
  ok "one server pod: ${S1%% *}" || not_ok "server pods: '$S1'"
UID1=$(printf '%s' "$S1" | cut -d' ' -f2)
grep -q "clients need its URL's token, which crosses the pod network in the clear" "$TMP/start1.err" &&
  ok "start says: token needed, in the clear on the pod network" || not_ok "start's note: $(cat "$TMP/start1.err")"
api GET "/api/v1/namespaces/$NS/secrets/${S1%% *}-token"
[ "$CODE" = 200 ] && [ "$(jfield "$TMP/body" metadata.ownerReferences.0.uid)" = "$UID1" ] &&
  ok "token secret ${S1%% *}-token, owned by the server pod" || not_ok "token secret: HTTP $CODE $(head -c 200 "$TMP/body")"
api GET "/api/v1/namespaces/$NS/pods/${S1%% *}"
grep -q "${URL##*Bearer%20}" "$TMP/body" && not_ok "the token is in the pod spec" || ok "the token is not in the pod spec"
refused() { # refused URL: a real client is turned away with UNAUTHENTICATED
  "$SRC/.cache/venv/bin/python" -c 'import sys
from pyspark.sql import SparkSession
try:
    SparkSession.builder.remote(sys.argv[1]).getOrCreate().range(3).count()
except Exception as e:
    sys.exit(0 if "UNAUTHENTICATED" in str(e) else 1)
sys.exit(1)' "$1" >"$TMP/refused.out" 2>&1
}
refused "${URL%%;authorization=*}" && ok "a client without the token is refused" || not_ok "no token: $(tail -3 "$TMP/refused.out")"
refused "${URL%%;authorization=*};authorization=Bearer%20x${URL##*Bearer%20}" && ok "a client with a wrong token is refused" ||
  not_ok "wrong token: $(tail -3 "$TMP/refused.out")"
SVC=$(services)
case "$SVC" in
  spok-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-kp)
    api GET "/api/v1/namespaces/$NS/services/$SVC"
    python3 -c 'import json,sys
sel = json.load(open(sys.argv[1]))["spec"]["selector"]
sys.exit(0 if sel.get("spok.dev/session") == "kp" and len(sel.get("spok.dev/store", "")) == 16 else 1)' "$TMP/body" &&
      ok "service $SVC selects this store's server only" || not_ok "service $SVC: selector $(cat "$TMP/body")" ;;
  *) not_ok "the session's service: '$SVC'" ;;
esac
[ "$(row backend)" = kubernetes ] && [ "$(row phase)" = RUNNING ] && ok "row: backend kubernetes, RUNNING" ||
  not_ok "row: $(cat "$TMP/list.json")"

# ---- 2. a warm job; executors come and go ----
warm_run first
grep -q '"ADDED"' "$TMP/exec.watch" && ok "executor pods appeared for the job" ||
  not_ok "no executor pod was created (watch: $(head -c 300 "$TMP/exec.watch"))"
EX=$(executors)
EX=${EX%%$'\n'*}
if [ -n "$EX" ]; then
  api GET "/api/v1/namespaces/$NS/pods/$EX"
  [ "$(jfield "$TMP/body" metadata.ownerReferences.0.uid)" = "$UID1" ] &&
    ok "executor $EX is owned by the server pod" || not_ok "executor $EX owner: $(jfield "$TMP/body" metadata.ownerReferences)"
fi
t0=$SECONDS
wait_for 120 no_executors && ok "executors gone after the idle timeout ($((SECONDS - t0)) s; server pod stays)" ||
  not_ok "executor pods still there: $(executors | tr '\n' ' ')"

# ---- 3. kill -9 of the supervisor; the next start adopts ----
SUP=$(row supervisor_pid)
kill -9 "$SUP" 2>/dev/null && ok "killed supervisor $SUP (-9)" || not_ok "no supervisor pid ('$SUP')"
sleep 1
[ "$(row phase)" = FAILED ] && grep -q 'left for the next start to adopt' "$TMP/list.json" &&
  ok "row settled FAILED, pod left for adoption" || not_ok "row after the kill: $(cat "$TMP/list.json")"
t0=$SECONDS
"$SPOK" session start kp >"$TMP/start2.out" 2>"$TMP/start2.err" &&
  ok "spok session start kp again ($((SECONDS - t0)) s)" || { not_ok "second start: $(cat "$TMP/start2.err")"; }
S2=$(servers)
[ "$(printf '%s\n' "$S2" | wc -l)" -eq 1 ] && [ "$(printf '%s' "$S2" | cut -d' ' -f2)" = "$UID1" ] &&
  ok "adopted: the same server pod, exactly one" || not_ok "server pods after the second start: '$S2' (first uid $UID1)"
grep -q 'adopted server pod' "$TMP/data/sessions/kp/server.log" && ok "server.log says adopted" ||
  not_ok "server.log: $(tail -n 5 "$TMP/data/sessions/kp/server.log")"
warm_run adopted

# ---- 4. stop ----
t0=$SECONDS
"$SPOK" session stop kp >"$TMP/stop1.out" 2>&1 && [ "$(row phase)" = STOPPED ] &&
  ok "spok session stop kp: STOPPED ($((SECONDS - t0)) s)" || not_ok "stop: $(cat "$TMP/stop1.out")"
token_gone() { api GET "/api/v1/namespaces/$NS/secrets/${S1%% *}-token"; [ "$CODE" = 404 ]; }
wait_for 90 token_gone && ok "token secret gone" || not_ok "token secret: HTTP $CODE"
wait_for 90 all_gone && ok "server pod, Service and executor pods gone" ||
  not_ok "left: $(servers) $(executors) service=$CODE"

# ---- 5. a server pod deleted by someone else: FAILED, restarted on next use; then a dead
# supervisor's pod is deleted by stop ----
if "$SPOK" session start kp >"$TMP/start3.out" 2>"$TMP/start3.err"; then
  S3=$(servers)
  api DELETE "/api/v1/namespaces/$NS/pods/${S3%% *}"
  failed_deleted() { [ "$(row phase)" = FAILED ] && grep -q 'was deleted by someone else' "$TMP/list.json"; }
  wait_for 60 failed_deleted && ok "server pod deleted through the API: session FAILED (deleted by someone else)" ||
    not_ok "after deleting the pod: $(cat "$TMP/list.json")"
  S4=
  "$SPOK" session url kp >"$TMP/url.out" 2>"$TMP/url.err" && S4=$(servers)
  NEW=$(awk '/ Running -$/ {print $1}' <<<"$S4")
  [ "$(awk '/ Running -$/ {n++} END {print n + 0}' <<<"$S4")" -eq 1 ] && [ "$NEW" != "${S3%% *}" ] &&
    ok "spok session url restarted it: new server pod $NEW" ||
    not_ok "restart on next use: $(cat "$TMP/url.err") pods '$S4'"
  kill -9 "$(row supervisor_pid)" 2>/dev/null
  "$SPOK" session stop kp >"$TMP/stop2.out" 2>&1
  # (its token Secret too, unless the garbage collector took it with the pod first)
  grep -Eq 'deleted [23] server objects left' "$TMP/stop2.out" && ok "stop after a dead supervisor deletes its pod, Service (and token Secret)" ||
    not_ok "stop after kill: $(cat "$TMP/stop2.out")"
  wait_for 90 all_gone && ok "nothing left" || not_ok "left: $(servers) service=$CODE"
else
  not_ok "third start: $(cat "$TMP/start3.err")"
fi
# ---- 6. the server pod deleted mid warm job: the attempt fails RETRYABLE at once (the
# platform's fault) and the retry runs on a restarted server ----
cp "$(dirname "$0")/../connect/data/once.py" "$TMP/once.py"
printf 'name: once\ntype: PYTHON\nmainApplicationFile: %s\nargs: ["%s"]\nretries: 1\n' "$TMP/once.py" "$TMP/once-started" >"$TMP/once.yaml"
(cd "$TMP" && "$SPOK" run "$TMP/once.yaml" --warm --pool kp) >"$TMP/once.out" 2>"$TMP/once.err" &
RUN=$!
PIDS+=($RUN)
if wait_for 240 test -e "$TMP/once-started" && wait_for 60 grep -q "once: long query" "$TMP/once.out"; then
  S6=$(servers)
  api DELETE "/api/v1/namespaces/$NS/pods/${S6%% *}"
  # bounded, not a timing assertion: without the fix the client retries for minutes
  wait_for 400 sh -c "! kill -0 $RUN 2>/dev/null" || not_ok "the warm run did not end after its server pod went"
  # Which of two ends first is a race: the supervisor's record of the server's end (spok's own
  # reason) or the client's error from the stopping server (Spark's "No active or default
  # Spark session found"); both fail the attempt RETRYABLE and the retry must succeed.
  if wait "$RUN" && grep -qx 'once: rows 11' "$TMP/once.out" &&
    grep -q 'attempt 1 of 2 failed: .*retrying' "$TMP/once.err" &&
    grep -q 'SUCCEEDED (attempt 2 of 2)' "$TMP/once.err"; then
    if grep -q 'Spark Connect server of session kp ended during the attempt' "$TMP/once.err"; then
      ok "server pod deleted mid-job: RETRYABLE (the server's end), the retry ran on a restarted server"
    else
      ok "server pod deleted mid-job: RETRYABLE (the client's error came first), the retry ran on a restarted server"
    fi
  else
    not_ok "once: $(tail -n 8 "$TMP/once.err" | cut -c1-300)"
  fi
else
  not_ok "once never started: $(tail -n 8 "$TMP/once.err" | cut -c1-300)"
fi

# ---- 7. spok serve's API stop of a session whose supervisor died deletes its pod ----
TOKEN=node-connect-root-token-7d1e
read -r HASH _ < <(printf '%s' "$TOKEN" | sha256sum)
printf -- '- {name: root, token-sha256: %s, projects: ["*"]}\n' "$HASH" >"$TMP/tokens.yaml"
cp "$TMP/spok.yaml" "$TMP/serve.yaml"
printf '  clusters:\n  - {name: admin, context: admin}\n  server:\n    listen: 127.0.0.1:0\n    tokens-file: tokens.yaml\n    local-runs: true\n' >>"$TMP/serve.yaml"
"$SPOK" serve --config "$TMP/serve.yaml" >"$TMP/serve.out" 2>"$TMP/serve.log" &
DAEMON=$!
PIDS+=($DAEMON)
wait_for 30 grep -q '^listening on' "$TMP/serve.out"
PORT=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/serve.out")
sapi() { CODE=$(curl -sS -o "$TMP/sbody" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$2"); }
sphase() { sapi GET /api/v1/sessions/kp; jfield "$TMP/sbody" phase; }
[ "$(row phase)" = RUNNING ] || "$SPOK" session start kp >/dev/null 2>"$TMP/start7.err"
kill -9 "$(row supervisor_pid)" 2>/dev/null
sapi POST /api/v1/sessions/kp/stop
[ "$CODE" = 202 ] && ok "API stop of a session with a dead supervisor: 202" || not_ok "API stop: HTTP $CODE $(cat "$TMP/sbody")"
stopped() { [ "$(sphase)" = STOPPED ]; }
wait_for 120 stopped && grep -q 'earlier supervisor left' "$TMP/sbody" && ok "STOPPED: $(jfield "$TMP/sbody" reason)" ||
  not_ok "after the API stop: $(cat "$TMP/sbody")"
wait_for 90 all_gone && ok "the dead supervisor's pod and Service are gone" || not_ok "left: $(servers) service=$CODE"
kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null

# ---- 8. an orphan: a session whose supervisor died is not used for its idle-timeout; the
# next supervisor in the namespace deletes its pod ----
printf '    - name: kq\n      kubernetes: {namespace: %s, context: admin}\n      idle-timeout: 20s\n      spark-conf: {spark.kubernetes.driver.request.cores: "250m", spark.driver.memory: "768m"}\n' "$NS" >>"$TMP/spok.yaml"
if "$SPOK" session start kq >"$TMP/start8.out" 2>"$TMP/start8.err"; then
  qrow() { "$SPOK" session list -o json | python3 -c 'import json,sys
for s in json.load(sys.stdin):
    if s["name"] == "kq": print(s.get(sys.argv[1]))' "$1"; }
  kill -9 "$(qrow supervisor_pid)" 2>/dev/null
  sleep 25 # past kq's idle-timeout (the orphan rule, not a timing assertion)
  "$SPOK" session start kp >/dev/null 2>"$TMP/start8b.err"
  kq_gone() { api GET "/api/v1/namespaces/$NS/pods?labelSelector=spok.dev%2Fsession%3Dkq"; [ "$(jfield "$TMP/body" items)" = "[]" ]; }
  wait_for 90 kq_gone && [ "$(qrow phase)" = STOPPED ] && ok "orphaned pod of kq deleted by kp's supervisor: $(qrow reason)" ||
    not_ok "kq after kp started: $(qrow phase) $(qrow reason) $(head -c 300 "$TMP/body")"
  "$SPOK" session stop kp >/dev/null 2>&1
else
  not_ok "start kq: $(cat "$TMP/start8.err")"
fi
echo "# wall time $((SECONDS - T_ALL)) s"
finish
