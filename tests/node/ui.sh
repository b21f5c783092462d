#!/usr/bin/env bash
# tests/node/ui.sh SPOK - `spok ui ID` on the real node: while a real SparkPi runs through the
# real operator, `spok ui ID --port 0` serves Spark's own UI from its driver pod through the
# API server's service proxy (no ingress): /jobs/ is Spark's jobs page listing the running
# job and the app name, links the API server rewrote come back to short paths, the REST API
# answers, and only the listener's own Host, GET and HEAD pass. SIGTERM ends one `spok ui`
# cleanly (exit 0 under LSan); the other ends by itself once the run is aborted. `spok status
# ID --watch -o json` streams the run's progress through the same proxy, and `spok run --cluster`
# on a terminal (script(1)) draws its live line from it (label progress too).
set -uo pipefail
SPOK=${1:?usage: ui.sh SPOK}
. "$(dirname "$0")/lib.sh"
NS=${SPOK_TEST_OPERATOR_NAMESPACE:-spark-jobs}
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
export SPOK_DATA_DIR="$TMP/data" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config"
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
# On a terminal (a pty from script(1), wide enough for the whole line), so that `spok run
# --cluster` draws its live progress line; run.err is the terminal's whole output.
script -qfec "stty cols 200 && exec $SPOK run $SRC/tests/node/data/pi-ui.yaml --cluster admin -n $NS --config $TMP/spok.yaml" \
  "$TMP/run.err" >/dev/null 2>&1 &
RUN=$!
PIDS+=("$RUN")
run_id() { ID=$(sed -n 's/^spok: execution \(sp-[^:]*\): SparkApplication.*/\1/p' "$TMP/run.err"); ID=${ID%%$'\n'*}; [ -n "$ID" ]; }
wait_for 60 run_id && ok "execution $ID" || { not_ok "no execution id: $(cat "$TMP/run.err")"; finish; exit 1; }
running() { "$SPOK" status "$ID" -o json --no-refresh >"$TMP/st.json" 2>/dev/null && [ "$(jfield "$TMP/st.json" phase)" = RUNNING ]; }
wait_for 400 running && ok "RUNNING" || { not_ok "never RUNNING: $(cat "$TMP/st.json") $(tail -n 5 "$TMP/run.err")"; finish; exit 1; }

ui_start 1 && [ -n "$URL" ] && ok "spok ui prints $URL" || { not_ok "spok ui: $(cat "$TMP/ui1.out" "$TMP/ui1.err")"; finish; exit 1; }
UI1=$UIPID

get() { # get PATH [curl args]: body in $TMP/page, code in CODE
  local p=$1; shift
  CODE=$(curl -sS --max-time 60 -o "$TMP/page" -w '%{http_code}' "$@" "${URL%/}$p")
}
has_job() { get /jobs/ && [ "$CODE" = 200 ] && grep -q 'reduce at' "$TMP/page"; }
wait_for 120 has_job && ok "/jobs/ lists the running job ('reduce at ...pi.py')" ||
  not_ok "/jobs/: HTTP $CODE $(head -c 600 "$TMP/page")"
# `spok status ID --watch -o json` reads the same UI's status REST API through the same proxy
# (the UI-address rule of backend.h): its progress names the application and its tasks.
"$SPOK" status "$ID" --watch -o json >"$TMP/watch.jsonl" 2>"$TMP/watch.err" &
WPID=$!
PIDS+=("$WPID")
has_progress() { grep -q '"progress":{"app_id":"spark-[0-9a-f]*".*"tasks_total":[1-9]' "$TMP/watch.jsonl"; }
wait_for 60 has_progress && ok "status --watch -o json: progress through the API server" ||
  not_ok "status --watch -o json: $(tail -n 2 "$TMP/watch.jsonl") $(cat "$TMP/watch.err")"
kill -TERM "$WPID"; wait "$WPID"; rc=$?
[ $rc -eq 0 ] && ok "status --watch: SIGTERM ends it, exit 0" || not_ok "status --watch after SIGTERM: exit $rc"
live_line() { grep -q $'\r\x1b\\[KRUNNING [0-9hms]* \\[[=> ]*\\] [0-9]*/[1-9][0-9]* tasks, [0-9]* failed, [0-9]* executor' "$TMP/run.err"; }
wait_for 60 live_line && ok "spok run --cluster on a terminal: the live line with tasks and executors" ||
  not_ok "spok run --cluster: no live progress line: $(tail -c 400 "$TMP/run.err" | tr '\r\033' '|~')"
grep -q '<title>PythonPi - Spark Jobs</title>' "$TMP/page" && ok "/jobs/ is Spark's jobs page of PythonPi" ||
  not_ok "/jobs/ title: $(grep -o '<title>[^<]*</title>' "$TMP/page")"
grep -q 'Active Jobs' "$TMP/page" && ok "/jobs/ shows Active Jobs" || not_ok "/jobs/ has no 'Active Jobs'"
# The API server rewrote Spark's links to carry its proxy prefix: they redirect back here.
links=$(grep -o 'href="/api/v1/namespaces/[^"]*/proxy/static/[^"]*\.css"' "$TMP/page")
link=${links%%$'\n'*}; link=${link#href=\"}; link=${link%\"}
if [ -n "$link" ]; then
  get "$link"
  loc=$(curl -sS --max-time 60 -o /dev/null -w '%{redirect_url}' "${URL%/}$link")
  [ "$CODE" = 302 ] && case "$loc" in "${URL%/}"/static/*.css) true ;; *) false ;; esac &&
    ok "rewritten link $link -> 302 $loc" || not_ok "rewritten link: HTTP $CODE -> '$loc'"
  get "$link" -L
  [ "$CODE" = 200 ] && ok "the stylesheet through the redirect" || not_ok "stylesheet: HTTP $CODE"
else
  not_ok "no link with the API server's proxy prefix in /jobs/: $(grep -o 'href="[^"]*"' "$TMP/page" | tr '\n' ' ' | cut -c1-400)"
fi
loc=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{redirect_url}' "$URL")
case "$loc" in "302 ${URL%/}/jobs/") ok "/ redirects to /jobs/ ($loc)" ;; *) not_ok "/: '$loc'" ;; esac
get /stages/
[ "$CODE" = 200 ] && grep -q 'Stages for All Jobs' "$TMP/page" && ok "/stages/ is Spark's stages page" || not_ok "/stages/: HTTP $CODE"
get /executors/
[ "$CODE" = 200 ] && grep -q 'Executors' "$TMP/page" && ok "/executors/ is Spark's executors page" || not_ok "/executors/: HTTP $CODE"
get /api/v1/applications
if [ "$CODE" = 200 ] && APPID=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a[0]["id"]) if a and a[0]["name"] == "PythonPi" else sys.exit(1)' "$TMP/page"); then
  ok "REST /api/v1/applications: $APPID"
  get "/api/v1/applications/$APPID/allexecutors"
  n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/page" 2>/dev/null)
  [ "$CODE" = 200 ] && [ "${n:-0}" -ge 3 ] && ok "REST allexecutors: driver + $((n - 1)) executors (what /executors/ draws)" ||
    not_ok "allexecutors: HTTP $CODE $(head -c 300 "$TMP/page")"
else
  not_ok "REST /api/v1/applications: HTTP $CODE $(head -c 300 "$TMP/page")"
fi
# Only this listener's own name, GET/HEAD, and nothing above the Service's proxy path.
get /jobs/ -H 'Host: evil.example:80'
[ "$CODE" = 403 ] && ok "a foreign Host header: 403" || not_ok "foreign Host: HTTP $CODE"
get /jobs/ -X POST -d x=1
[ "$CODE" = 405 ] && ok "POST: 405" || not_ok "POST: HTTP $CODE"
get /jobs/ -I
[ "$CODE" = 200 ] && ok "HEAD /jobs/: 200" || not_ok "HEAD: HTTP $CODE"
get '/../../../../secrets' --path-as-is
[ "$CODE" = 400 ] && ok "a dot segment: 400" || not_ok "dot segment: HTTP $CODE $(head -c 200 "$TMP/page")"

# --pod: the driver pod's own proxy instead of the UI Service (what spok ui falls back to when
# the operator makes no Service). SIGTERM: a clean exit 0 (LSan finds nothing left), the port
# is closed.
URL1=$URL
ui_start 2 --pod || not_ok "spok ui --pod: $(cat "$TMP/ui2.err")"
URL2=$URL
grep -q "through the driver pod $NS/" "$TMP/ui2.err" && ok "--pod: through the driver pod" ||
  not_ok "--pod: $(cat "$TMP/ui2.err")"
has_job && grep -q '<title>PythonPi - Spark Jobs</title>' "$TMP/page" && ok "--pod: /jobs/ lists the job" ||
  not_ok "--pod /jobs/: HTTP $CODE"
kill -TERM "$UIPID"; wait "$UIPID"; rc=$?
[ $rc -eq 0 ] && grep -q 'SIGTERM: stopped serving the Spark UI of' "$TMP/ui2.err" && ok "SIGTERM: exit 0, said so" ||
  not_ok "SIGTERM: exit $rc: $(cat "$TMP/ui2.err")"
curl -s --max-time 5 -o /dev/null "$URL2" && not_ok "$URL2 still answers after SIGTERM" || ok "$URL2 closed"

# The run ends (aborted here): the first `spok ui` notices and exits by itself.
"$SPOK" abort "$ID" >"$TMP/abort.out" 2>&1 || not_ok "spok abort: $(cat "$TMP/abort.out")"
ended() { ! kill -0 "$UI1" 2>/dev/null; }
wait_for 90 ended && { wait "$UI1"; rc=$?; } || rc=timeout
[ "$rc" = 0 ] && grep -q "execution $ID has finished" "$TMP/ui1.err" && ok "spok ui ended by itself: $(tail -n 1 "$TMP/ui1.err")" ||
  not_ok "spok ui after the run: exit $rc: $(cat "$TMP/ui1.err")"
wait "$RUN"; echo "# spok run exit $?"
finish
