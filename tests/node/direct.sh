#!/usr/bin/env bash
# tests/node/direct.sh SPOK - direct submission (no operator, no spark-submit) on the real
# node, in a namespace `spok cluster sync` prepared from deploy/cluster-resources (its
# ServiceAccount spark and Role are all the driver gets; the operator watches another
# namespace):
#   1. examples/pi (pi.py shipped) with `spok run --submit direct --keep`: SUCCEEDED, the
#      driver's real log with "Pi is roughly 3.14" on stdout and from `spok logs`, executor
#      pods the driver created (spark-role=executor, spark-app-selector = the app id, owned by
#      the driver pod) listed in the run's executor log links and read by `spok logs
#      --executor`, the event log on the node's volume served by `spok history --log-dir`;
#      then the kept driver pod deleted through the API server: Kubernetes' garbage collector
#      removes its ConfigMaps, Service and executors (the owner references spok set).
#   2. a small Pi not kept: spok's teardown leaves nothing (executors included).
#   3. a long Pi with `submission: direct` from the platform config: while it runs, `spok ui`
#      serves Spark's UI through the driver Service and `spok status --watch` reads its
#      progress; then kill -9 of the `spok run` supervising it (no teardown) and the driver pod
#      deleted through the API server: its ConfigMaps and Service go by themselves (bounded
#      wait); `spok reconcile` then ends the run as deleted by someone else, nothing left.
set -uo pipefail
SPOK=${1:?usage: direct.sh SPOK}
. "$(dirname "$0")/lib.sh"
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
EVROOT=${SPOK_TEST_EVENT_LOG_DIR:?no event-log dir in the node env; scripts/k8s up --node makes one}
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
NS=spokdirect-development
EV=$(mktemp -d "$EVROOT/node-direct.XXXXXX") && chown 185:185 "$EV" && chmod 0755 "$EV" ||
  { not_ok "cannot make an event-log dir under $EVROOT"; finish; exit 1; }
trap '"$SPOK" history stop >/dev/null 2>&1; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  api DELETE "/api/v1/namespaces/$NS"; rm -rf "$TMP" "$EV"' EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# ---- the namespace as `spok cluster sync` provisions it ----
"$SPOK" cluster sync --cluster admin --templates "$SRC/deploy/cluster-resources" --project spokdirect \
  --domain development --set spark-quota-cpu=4 --set spark-quota-memory=16Gi --set spark-quota-pods=20 \
  --set spark-quota-apps=5 >"$TMP/sync.out" 2>&1 &&
  grep -q '^serviceaccount/spark serverside-applied' "$TMP/sync.out" &&
  grep -q '^role.rbac.authorization.k8s.io/spark-role serverside-applied' "$TMP/sync.out" &&
  ok "spok cluster sync: namespace $NS, ServiceAccount spark, its Role" ||
  { not_ok "spok cluster sync: $(cat "$TMP/sync.out")"; finish; exit 1; }

# The platform config: the image built here, event logs on the node's volume, executor log
# links, CPU requests that fit driver + 2 executors on 2 cores, executor pods kept until their
# driver pod goes (the list form: no warning about Flyte's lower-cased copy of the key).
conf() { # conf FILE [SUBMISSION]: the platform config, with a cluster entry when SUBMISSION
  local clusters=
  [ -z "${2:-}" ] || clusters="  clusters: [{name: admin, context: admin, submission: $2}]"
  cat >"$1" <<YAML
spok:
  default-image: $IMAGE
  spark-version: "4.0.5"
  event-log:
    dir: /var/spark-events
    volume:
      hostPath: {path: $EV, type: Directory}
$clusters
plugins:
  spark:
    spark-history-server-url: http://127.0.0.1:$PORT
    logs:
      user:
        kubernetes-enabled: true
        kubernetes-template-uri: "http://localhost:30082/#!/log/{{ .namespace }}/{{ .podName }}/pod?namespace={{ .namespace }}"
    spark-config-default:
      - spark.kubernetes.driver.request.cores: "250m"
      - spark.kubernetes.executor.request.cores: "250m"
      - spark.kubernetes.executor.deleteOnTermination: "false"
YAML
}
conf "$TMP/spok.yaml"
exec_id() { # exec_id FILE: the id `spok run` printed for a direct run
  ID=$(sed -n 's/^spok: execution \(sp-[^:]*\): driver pod (direct submission) in .*/\1/p' "$1"); ID=${ID%%$'\n'*}
  [ -n "$ID" ]
}
# objects APP: what of attempt APP is in $NS (ConfigMaps, Service, driver pod), one a line
objects() {
  local k
  for k in configmaps services pods; do
    api GET "/api/v1/namespaces/$NS/$k"
    python3 -c 'import json,sys
for o in json.load(open(sys.argv[1])).get("items", []):
    n = o["metadata"]["name"]
    if n.startswith(sys.argv[3]): print(sys.argv[2] + "/" + n)' "$TMP/body" "$k" "$1"
  done
}
# owned_by_pod APP KIND/NAME...: each object names the driver pod (its uid) as controller
owned_by_pod() {
  local uid obj bad= app=$1
  shift
  api GET "/api/v1/namespaces/$NS/pods/$app-driver"
  uid=$(jfield "$TMP/body" metadata.uid)
  for obj in "$@"; do
    api GET "/api/v1/namespaces/$NS/$obj"
    python3 -c 'import json,sys
refs = json.load(open(sys.argv[1]))["metadata"].get("ownerReferences") or []
sys.exit(0 if [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in refs] == [("Pod", sys.argv[2], sys.argv[3], True)] else 1)' \
      "$TMP/body" "$app-driver" "$uid" || bad="$bad $obj"
  done
  [ -z "$bad" ] || { echo "# not owned by pod $app-driver ($uid):$bad"; return 1; }
}

# ---- 1. examples/pi, --submit direct, --keep ----
gone() { [ -z "$(objects "$APP")" ]; }
watch_to "$TMP/pods.watch" "/api/v1/namespaces/$NS/pods?watch=1&labelSelector=spark-role%3Dexecutor"
sleep 1
mkdir -p "$TMP/pi"
sed "s#^image: .*#image: $IMAGE#" "$SRC/examples/pi/pi.yaml" >"$TMP/pi/pi.yaml"
cp "$SRC/examples/pi/pi.py" "$TMP/pi/pi.py"
T0=$SECONDS
(cd "$TMP" && "$SPOK" run "$TMP/pi/pi.yaml" --cluster admin -n "$NS" --config "$TMP/spok.yaml" \
  --submit direct --keep) >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && ok "spok run --submit direct exit 0 ($((SECONDS - T0)) s)" || { not_ok "spok run exit $rc"; tail -n 20 "$TMP/err"; }
if pi=$(grep -o 'Pi is roughly 3\.1[2-6][0-9]*' "$TMP/out"); then ok "stdout has the driver's ${pi%%$'\n'*}"
else not_ok "no 'Pi is roughly 3.14' on stdout; tail:"; tail -n 15 "$TMP/out" | cut -c1-300; fi
exec_id "$TMP/err" && ok "execution $ID (driver pod, direct submission)" ||
  { not_ok "no execution id in stderr: $(head -c 600 "$TMP/err")"; finish; exit 1; }
phases=$(awk -v id="$ID" '$2 == id { print $3 }' "$TMP/err" | uniq | tr '\n' ' ')
case " $phases " in *" QUEUED "*"INITIALIZING "*"RUNNING "*"SUCCEEDED "*) ok "phases QUEUED -> INITIALIZING -> RUNNING -> SUCCEEDED" ;;
  *) not_ok "phases '$phases'"; head -n 30 "$TMP/err" ;; esac
"$SPOK" status "$ID" -o json >"$TMP/status.json" 2>"$TMP/status.err"
[ "$(jfield "$TMP/status.json" phase)" = SUCCEEDED ] && [ "$(jfield "$TMP/status.json" submission)" = direct ] &&
  ok "recorded SUCCEEDED, submission direct" || not_ok "status: $(head -c 800 "$TMP/status.json") $(cat "$TMP/status.err")"
APP=$(jfield "$TMP/status.json" resource_name)
APPID=$(jfield "$TMP/status.json" spark_app_id)
api GET "/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
grep -q '"items":\[\]' "$TMP/body" && ok "no SparkApplication in $NS" || not_ok "SparkApplications: $(head -c 300 "$TMP/body")"

# The driver pod: the synced ServiceAccount, the app id spok chose.
api GET "/api/v1/namespaces/$NS/pods/$APP-driver"
sa=$(jfield "$TMP/body" spec.serviceAccountName)
sel=$(jfield "$TMP/body" metadata.labels.spark-app-selector)
api GET "/api/v1/namespaces/$NS/serviceaccounts/$sa"
[ "$sa" = spark ] && python3 -c 'import json,sys
sys.exit(0 if json.load(open(sys.argv[1]))["metadata"]["labels"].get("spok.dev/managed-by") == "cluster-sync" else 1)' "$TMP/body" &&
  ok "driver pod runs as ServiceAccount spark, the one cluster sync applied" ||
  not_ok "driver pod's ServiceAccount '$sa': $(head -c 300 "$TMP/body")"
[ -n "$APPID" ] && [ "$sel" = "$APPID" ] && ok "driver pod's spark-app-selector = app id $APPID" ||
  not_ok "spark-app-selector '$sel', recorded app id '$APPID'"
owned_by_pod "$APP" "configmaps/$APP-conf" "configmaps/$APP-files" &&
  ok "ConfigMaps $APP-conf and $APP-files owned by the driver pod" || not_ok "owner references"
# Spark's driver deletes its Service when it stops (spark.kubernetes.driver.service.deleteOnTermination)
api GET "/api/v1/namespaces/$NS/services/$APP-driver-svc"
[ "$CODE" = 404 ] && ok "Service $APP-driver-svc deleted by the driver at its end, as spark-submit's" ||
  not_ok "Service $APP-driver-svc after the run: HTTP $CODE"

# Executor pods: created by the driver (labels, owner), Running, in the run's links.
execs=$(python3 - "$TMP/pods.watch" "$APPID" "$APP-driver" <<'PY'
import json, sys
names, bad = set(), []
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)["object"]
    except Exception:
        continue
    md = o["metadata"]
    lb = md.get("labels", {})
    owners = [r.get("name") for r in md.get("ownerReferences", [])]
    if lb.get("spark-app-selector") != sys.argv[2] or owners != [sys.argv[3]]:
        bad.append(md["name"])
    elif o.get("status", {}).get("phase") == "Running":
        names.add(md["name"])
print(" ".join(sorted(names)) + ("" if not bad else " BAD:" + ",".join(sorted(set(bad)))))
PY
)
n=$(wc -w <<<"$execs")
case "$execs" in
  *BAD:*) not_ok "executor pods not of this app or not owned by its driver: $execs" ;;
  *) [ "$n" -ge 2 ] && ok "$n executor pods Running, spark-app-selector $APPID, owned by $APP-driver" ||
    not_ok "executor pods Running: '$execs', want 2" ;;
esac
python3 - "$TMP/status.json" $execs <<'PY' && ok "executor log links name $execs" || not_ok "executor log links: $(head -c 1500 "$TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
names = [l.get("name", "") for l in s.get("links") or []]
sys.exit(0 if sys.argv[2:] and all(any("Executor Logs " + p in n for n in names) for p in sys.argv[2:]) else 1)
PY
"$SPOK" logs "$ID" >"$TMP/dlog" 2>"$TMP/dlog.err"
grep -q 'Pi is roughly 3\.1[2-6]' "$TMP/dlog" && ok "spok logs $ID: the driver's log" ||
  not_ok "spok logs: $(tail -n 3 "$TMP/dlog") $(cat "$TMP/dlog.err")"
"$SPOK" logs "$ID" --executor 1 >"$TMP/elog" 2>"$TMP/elog.err"
grep -q 'Successfully registered with driver' "$TMP/elog" && ok "spok logs --executor 1: that executor's log" ||
  not_ok "spok logs --executor 1: $(tail -n 3 "$TMP/elog") $(cat "$TMP/elog.err")"

# History: the event log on the volume, served by `spok history`, the stored link opens it.
LINK=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
print(" ".join(l["uri"] for l in s.get("links") or [] if l.get("name") == "Spark History UI"))' "$TMP/status.json")
[ "$LINK" = "http://127.0.0.1:$PORT/history/$APPID" ] && ok "stored history link $LINK" || not_ok "history link '$LINK'"
# one file, or Spark 4's rolling directory whose appstatus file loses .inprogress at the end
LOGF=$EV/$APPID
[ -f "$LOGF" ] || LOGF=$EV/eventlog_v2_$APPID/appstatus_$APPID
[ -n "$APPID" ] && [ -f "$LOGF" ] && [ "$(stat -c %u "$LOGF")" = 185 ] &&
  ok "event log $LOGF written by uid 185" || not_ok "no event log for '$APPID' in $EV: $(ls -laR "$EV")"
"$SPOK" history --port "$PORT" --log-dir "$EV" >"$TMP/hist.out" 2>"$TMP/hist.err" ||
  not_ok "spok history: $(cat "$TMP/hist.out" "$TMP/hist.err")"
listed() {
  curl -sS --max-time 30 -o "$TMP/api.json" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/applications/$APPID" >"$TMP/api.code" 2>/dev/null &&
    [ "$(cat "$TMP/api.code")" = 200 ]
}
if wait_for 120 listed && python3 -c 'import json,sys
a = json.load(open(sys.argv[1]))
assert a["id"] == sys.argv[2] and a["name"] == "PythonPi" and a["attempts"][0]["completed"] is True, a' "$TMP/api.json" "$APPID"
then ok "history server: $APPID PythonPi completed"
else not_ok "history REST: $(cat "$TMP/api.code" 2>/dev/null) $(head -c 400 "$TMP/api.json" 2>/dev/null)"; fi
"$SPOK" history stop >/dev/null 2>&1

# The kept run: its driver pod deleted through the API server; the garbage collector takes
# the rest (ConfigMaps, Service, executor pods) by the owner references.
api DELETE "/api/v1/namespaces/$NS/pods/$APP-driver"
wait_for 180 gone && ok "kept run: driver pod deleted, its ConfigMaps, Service and executors collected" ||
  not_ok "left after deleting $APP-driver: $(objects "$APP" | tr '\n' ' ')"

# ---- 2. a run that is not kept: spok's teardown leaves nothing (the driver pod goes with
# Background propagation, and with it the executor pods Spark kept) ----
"$SPOK" run "$SRC/tests/node/data/pi-history.yaml" --cluster admin -n "$NS" --config "$TMP/spok.yaml" \
  --submit direct >"$TMP/out3" 2>"$TMP/err3"
rc=$?
exec_id "$TMP/err3" && [ $rc -eq 0 ] && ok "small Pi, not kept: exit 0 ($ID)" ||
  not_ok "small Pi: exit $rc $(tail -n 5 "$TMP/err3")"
APP=$("$SPOK" status "$ID" -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("resource_name") or "")')
[ -n "$APP" ] && wait_for 120 gone && ok "torn down: nothing of $APP left" ||
  not_ok "left after the run: $(objects "${APP:-none}" | tr '\n' ' ')"

# ---- 3. submission: direct from the config; UI while it runs; kill -9, garbage collection ----
conf "$TMP/spok2.yaml" direct
sed -e "s#^image: .*#image: $IMAGE#" -e 's/^args: .*/args: ["2000", "200000"]/' -e 's/^name: .*/name: pi-long/' \
  "$SRC/examples/pi/pi.yaml" >"$TMP/pi/long.yaml"
(cd "$TMP" && exec "$SPOK" run "$TMP/pi/long.yaml" --cluster admin -n "$NS" --config "$TMP/spok2.yaml") \
  >"$TMP/out2" 2>"$TMP/err2" &
RUN=$!
PIDS+=("$RUN")
wait_for 60 exec_id "$TMP/err2" && ok "execution $ID: driver pod from submission: direct" ||
  { not_ok "no execution id: $(cat "$TMP/err2")"; finish; exit 1; }
running() { "$SPOK" status "$ID" -o json --no-refresh >"$TMP/st.json" 2>/dev/null && [ "$(jfield "$TMP/st.json" phase)" = RUNNING ]; }
wait_for 400 running && ok "RUNNING" || { not_ok "never RUNNING: $(cat "$TMP/st.json") $(tail -n 5 "$TMP/err2")"; finish; exit 1; }
APP=$(jfield "$TMP/st.json" resource_name)
ui_start 1 && [ -n "$URL" ] && ok "spok ui prints $URL" || not_ok "spok ui: $(cat "$TMP/ui1.out" "$TMP/ui1.err")"
get() { CODE=$(curl -sS --max-time 60 -o "$TMP/page" -w '%{http_code}' "${URL%/}$1"); }
has_job() { [ -n "${URL:-}" ] && get /jobs/ && [ "$CODE" = 200 ] && grep -q 'reduce at' "$TMP/page"; }
wait_for 120 has_job && grep -q '<title>PythonPi - Spark Jobs</title>' "$TMP/page" &&
  ok "/jobs/ is Spark's jobs page of PythonPi with the running job" || not_ok "/jobs/: HTTP ${CODE:-} $(head -c 400 "$TMP/page")"
# The API server rewrote the page's links with the proxy path it came through: the Service.
grep -q "href=\"/api/v1/namespaces/$NS/services/$APP-driver-svc:[0-9]*/proxy/" "$TMP/page" &&
  ok "through the driver Service $APP-driver-svc" ||
  not_ok "not through $APP-driver-svc: $(grep -m 1 -o 'href="/api/v1/[^"]*"' "$TMP/page")"
"$SPOK" status "$ID" --watch -o json >"$TMP/watch.jsonl" 2>"$TMP/watch.err" &
WPID=$!
PIDS+=("$WPID")
has_progress() { grep -q '"progress":{"app_id":"spark-[0-9a-f]*".*"tasks_total":[1-9]' "$TMP/watch.jsonl"; }
wait_for 60 has_progress && ok "status --watch -o json: progress through the API server" ||
  not_ok "status --watch -o json: $(tail -n 2 "$TMP/watch.jsonl") $(cat "$TMP/watch.err")"
kill -TERM "$WPID" "$UIPID" 2>/dev/null
wait "$WPID" "$UIPID" 2>/dev/null

# kill -9: nobody tears down. Then the driver pod is deleted through the API server.
kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
owned_by_pod "$APP" "configmaps/$APP-conf" "configmaps/$APP-files" "services/$APP-driver-svc" &&
  ok "after kill -9: the ConfigMaps and the Service owned by the driver pod" ||
  not_ok "owner references after kill -9: $(objects "$APP" | tr '\n' ' ')"
api DELETE "/api/v1/namespaces/$NS/pods/$APP-driver"
[ "$CODE" = 200 ] || not_ok "DELETE pod $APP-driver: HTTP $CODE $(head -c 300 "$TMP/body")"
wait_for 180 gone && ok "garbage collection: $APP's ConfigMaps, Service and executors went with its driver pod" ||
  not_ok "left after deleting $APP-driver (no spok running): $(objects "$APP" | tr '\n' ' ')"
"$SPOK" reconcile --cluster admin --config "$TMP/spok2.yaml" -q >"$TMP/rec.out" 2>&1 || not_ok "reconcile: $(cat "$TMP/rec.out")"
"$SPOK" status "$ID" -o json --no-refresh >"$TMP/st.json" 2>/dev/null
grep -q "ResourceDeletedExternally: driver pod $NS/$APP-driver was deleted by someone else" "$TMP/st.json" &&
  ok "spok reconcile: $(jfield "$TMP/st.json" phase), the pod deleted by someone else" ||
  not_ok "after reconcile: $(head -c 600 "$TMP/st.json")"
[ -z "$(objects "$APP")" ] && ok "nothing left of $APP" || not_ok "left: $(objects "$APP" | tr '\n' ' ')"
finish
