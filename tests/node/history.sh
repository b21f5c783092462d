#!/usr/bin/env bash
# tests/node/history.sh SPOK - event logs of a cluster run, read by `spok history`: the
# platform config an admin of this one-node cluster writes puts drivers' event logs on a
# hostPath volume (spok.event-log, under the node's data dir) and names the history server
# (spark-history-server-url). A small SparkPi run by `spok run --cluster` writes its event log
# there as uid 185; `spok history --log-dir` serves that directory on this host; the history
# link stored with the finished run (`spok status ID -o json`) opens that application's page,
# and the history server's REST API knows the app as completed.
set -uo pipefail
SPOK=${1:?usage: history.sh SPOK}
. "$(dirname "$0")/lib.sh"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
EVROOT=${SPOK_TEST_EVENT_LOG_DIR:?no event-log dir in the node env; scripts/k8s up --node makes one}
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
# This run's own directory on the volume (the driver writes as uid 185), removed at the end.
EV=$(mktemp -d "$EVROOT/node-history.XXXXXX") && chown 185:185 "$EV" && chmod 0755 "$EV" ||
  { not_ok "cannot make an event-log dir under $EVROOT"; finish; exit 1; }
trap '"$SPOK" history stop >/dev/null 2>&1; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP" "$EV"' EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/spok.yaml" <<YAML
spok:
  default-image: $IMAGE
  spark-version: "4.0.5"
  event-log:
    dir: /var/spark-events
    volume:
      hostPath: {path: $EV, type: Directory}
plugins:
  spark:
    spark-history-server-url: http://127.0.0.1:$PORT
    spark-config-default:
      spark.kubernetes.driver.request.cores: "250m"
      spark.kubernetes.executor.request.cores: "250m"
YAML
"$SPOK" render "$SRC/tests/node/data/pi-history.yaml" --config "$TMP/spok.yaml" -n "$NS" -o json >"$TMP/app.json" 2>"$TMP/render.err"
python3 - "$TMP/app.json" "$EV" <<'PY' && ok "spok render: event-log conf and the driver's hostPath volume" || not_ok "render: $(head -c 600 "$TMP/app.json") $(cat "$TMP/render.err")"
import json, sys
spec = json.load(open(sys.argv[1]))["spec"]
c = spec["sparkConf"]
assert c["spark.eventLog.enabled"] == "true" and c["spark.eventLog.dir"] == "file:///var/spark-events", c
t = spec["driver"]["template"]["spec"]
assert t["volumes"] == [{"name": "spok-event-log", "hostPath": {"path": sys.argv[2], "type": "Directory"}}], t
assert t["containers"][0]["volumeMounts"] == [{"name": "spok-event-log", "mountPath": "/var/spark-events"}], t
assert "template" not in spec["executor"], spec["executor"]
PY

"$SPOK" run "$SRC/tests/node/data/pi-history.yaml" --cluster admin -n "$NS" --config "$TMP/spok.yaml" \
  >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] && ok "spok run --cluster exit 0" || { not_ok "spok run exit $rc"; tail -n 20 "$TMP/err"; }
ID=$(sed -n 's/^spok: execution \(sp-[^:]*\): SparkApplication.*/\1/p' "$TMP/err"); ID=${ID%%$'\n'*}
[ -n "$ID" ] && ok "execution $ID" || { not_ok "no execution id in stderr: $(head -c 400 "$TMP/err")"; finish; exit 1; }
"$SPOK" status "$ID" -o json >"$TMP/status.json" 2>"$TMP/status.err"
APPID=$(jfield "$TMP/status.json" spark_app_id)
LINK=$(python3 - "$TMP/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
links = [l["uri"] for l in s.get("links") or [] if l.get("name") == "Spark History UI"]
assert s["phase"] == "SUCCEEDED" and len(links) == 1 and links[0] == s["history_url"], s
print(links[0])
PY
)
[ -n "$APPID" ] && [ "$LINK" = "http://127.0.0.1:$PORT/history/$APPID" ] &&
  ok "SUCCEEDED; stored history link $LINK" || not_ok "status: $(head -c 900 "$TMP/status.json") $(cat "$TMP/status.err")"
[ "$(jfield "$TMP/status.json" event_log_dir)" = file:///var/spark-events ] && ok "event_log_dir recorded" ||
  not_ok "event_log_dir '$(jfield "$TMP/status.json" event_log_dir)'"
"$SPOK" status "$ID" >"$TMP/status.txt" 2>&1
grep -q "^History: *$LINK\$" "$TMP/status.txt" && ok "spok status shows the platform's link" ||
  not_ok "spok status: $(grep -i history "$TMP/status.txt")"

# The driver wrote its event log onto the volume, as uid 185, and finished it (no .inprogress):
# one file, or Spark 4's rolling directory whose appstatus file loses .inprogress at the end.
LOGF=$EV/$APPID
[ -f "$LOGF" ] || LOGF=$EV/eventlog_v2_$APPID/appstatus_$APPID
if [ -n "$APPID" ] && [ -f "$LOGF" ]; then
  ok "event log $LOGF ($(stat -c '%U:%G %a %s bytes' "$LOGF"))"
  [ "$(stat -c %u "$LOGF")" = 185 ] && ok "written by uid 185" || not_ok "event log owner uid $(stat -c %u "$LOGF")"
else
  not_ok "no event log for '$APPID' in $EV: $(ls -la "$EV")"
fi

"$SPOK" history --port "$PORT" --log-dir "$EV" >"$TMP/hist.out" 2>"$TMP/hist.err" &&
  grep -q "^Spark history server: http://127.0.0.1:$PORT (event logs in file://$EV)\$" "$TMP/hist.out" &&
  ok "spok history --log-dir: $(cat "$TMP/hist.out")" ||
  not_ok "spok history: $(cat "$TMP/hist.out" "$TMP/hist.err")"
"$SPOK" history --port "$PORT" >/dev/null 2>"$TMP/hist2.err"
rc=$?
[ $rc -ne 0 ] && grep -q "already running on port $PORT over file://$EV" "$TMP/hist2.err" &&
  ok "a second spok history over another dir: clear refusal" || not_ok "second spok history: rc $rc $(cat "$TMP/hist2.err")"
listed() {
  curl -sS --max-time 30 -o "$TMP/api.json" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/applications/$APPID" >"$TMP/api.code" 2>/dev/null &&
    [ "$(cat "$TMP/api.code")" = 200 ]
}
if wait_for 120 listed && python3 - "$TMP/api.json" "$APPID" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
assert a["id"] == sys.argv[2] and a["name"] == "PythonPi", a
assert a["attempts"] and a["attempts"][0]["completed"] is True, a
PY
then ok "REST /api/v1/applications/$APPID: PythonPi, completed"
else not_ok "REST: $(cat "$TMP/api.code" 2>/dev/null) $(head -c 600 "$TMP/api.json" 2>/dev/null); log: $(tail -n 5 "$TMP/data/history.log")"; fi
CODE=$(curl -sS -L --max-time 120 -o "$TMP/page" -w '%{http_code} %{url_effective}' "$LINK")
case "$CODE" in
  "200 http://127.0.0.1:$PORT/history/$APPID/"*)
    grep -q 'PythonPi' "$TMP/page" && grep -q 'reduce at' "$TMP/page" &&
      ok "the stored link opens Spark's history page of $APPID (jobs: reduce at pi.py)" ||
      not_ok "history page without the app's job: $(head -c 600 "$TMP/page")" ;;
  *) not_ok "GET $LINK: $CODE $(head -c 300 "$TMP/page")" ;;
esac
"$SPOK" history stop >/dev/null 2>&1 && ok "spok history stop" || not_ok "spok history stop failed"
finish
