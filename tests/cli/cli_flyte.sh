#!/usr/bin/env bash
# tests/cli/cli_flyte.sh SPOK SRC PKG FIXTURE - a flytekit task (`pyflyte package` of
# examples/flytekit, fixture flyteidl_package) through `spok run PKG --cluster` with
# spok.flyte-data, against the real API server (fixture `k8s`; no kubelet: this script plays
# flytekit and the operator). inputs.pb (typed by the task, decoded here by flytekit's own
# protobufs) and the task's module are on the data folder before the SparkApplication exists,
# whose args point into the volume that both pod templates mount; then what the "task" left
# decides the end: outputs.pb -> SUCCEEDED with its outputs printed and stored; error.pb ->
# the failure and flytekit's message; nothing -> RETRYABLE_FAILURE naming the folder.
# Refusals are one line, exit 2, nothing recorded or created: a flytekit task without
# flyte-data, --input on a job file, a --python-path without the module, an unknown input.
set -u
SPOK=$1 SRC=$2 PKG=$3 FIX=$4
[ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ] || { echo "SPOK_K8S_ENV not set: run under the k8s fixture" >&2; exit 1; }
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$SPOK_K8S_ENV"
T=$(mktemp -d)
RUNPID=""
trap '[ -n "$RUNPID" ] && kill "$RUNPID" 2>/dev/null; rm -rf "$T"' EXIT
export SPOK_DATA_DIR="$T/data" XDG_CONFIG_HOME="$T/config" HOME="$T"
PY=$SRC/.cache/venv/bin/python
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
ok() { printf 'ok - %s\n' "$*"; }

NS="cli-flyte-$$-$RANDOM"
kcurl() { # kcurl METHOD PATH [JSON [CONTENT-TYPE]]: body in $T/kcurl.out
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: ${4:-application/json}" --data "$3")
	curl -sS --fail-with-body --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
		--key "$SPOK_TEST_ADMIN_KEY" -X "$1" "${body[@]}" "$SPOK_TEST_APISERVER$2" >"$T/kcurl.out" 2>&1
}
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else (v.get(k) if isinstance(v, dict) else None)
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else v))' "$@"; }
APPS="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
count() { # SparkApplications in the namespace (the API server may answer 429 while it warms up)
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kcurl GET "$APPS" && break
		sleep 0.5
	done
	python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$T/kcurl.out" 2>/dev/null
}
kcurl POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" ||
	{ cat "$T/kcurl.out" >&2; echo "cannot create namespace $NS" >&2; exit 1; }

LOCAL=$T/flyte-data
mkdir -p "$LOCAL"
cat >"$T/fd.yaml" <<YAML
spok:
  flyte-data:
    dir: /var/spok/flyte
    volume:
      hostPath: {path: $LOCAL, type: Directory}
YAML
printf 'spok: {}\n' >"$T/none.yaml"
mkdir -p "$T/empty" && cd "$T/empty"

# 1. Refusals.
refuse() { # refuse PATTERN ARGS...: exit 2, one line matching, nothing recorded or created
	local want=$1; shift
	"$SPOK" run "$@" --cluster admin -n "$NS" -q >"$T/r.out" 2>"$T/r.err"
	local rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$T/r.err")" = 1 ] && grep -q -- "$want" "$T/r.err"; then
		ok "refused: $(cat "$T/r.err")"
	else
		fail "want exit 2 and '$want'; got exit $rc: $(cat "$T/r.err")"
	fi
}
refuse "^spok: $PKG: a flytekit task on a cluster reads inputs.pb and writes its outputs where spok can reach them: configure spok.flyte-data (docs/CONFIG.md)$" \
	"$PKG" --task hello_spark --input partitions=2 --config "$T/none.yaml"
refuse "^spok: --input x: only flytekit tasks take typed inputs" \
	"$SRC/examples/pi/pi.yaml" --input x=1 --config "$T/fd.yaml"
refuse "^spok: --python-path $T: no module 'pi' there (the task-module pi); give the folder that holds it$" \
	"$PKG" --task hello_spark --input partitions=2 --python-path "$T" --config "$T/fd.yaml"
refuse "nope" "$PKG" --task hello_spark --input partitions=2 --input nope=1 \
	--python-path "$SRC/examples/flytekit" --config "$T/fd.yaml"
refuse "partitions" "$PKG" --task hello_spark --input partitions=two \
	--python-path "$SRC/examples/flytekit" --config "$T/fd.yaml"
n=$(count)
[ "$n" = 0 ] && ok "nothing created by the refused runs" || fail "refused runs: apps '$n': $(head -c 300 "$T/kcurl.out")"
[ "$("$SPOK" list -o json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] &&
	ok "nothing recorded by the refused runs" || fail "refused runs were recorded"
[ -z "$(ls "$LOCAL")" ] && ok "nothing written to the data folder" || fail "data folder: $(ls "$LOCAL")"

# start NAME: `spok run` in the background; sets ID and APP once the SparkApplication exists.
start() {
	"$SPOK" run "$PKG" --task hello_spark --input partitions=3 --python-path "$SRC/examples/flytekit" \
		--cluster admin -n "$NS" -q --config "$T/fd.yaml" >"$T/$1.out" 2>"$T/$1.err" &
	RUNPID=$!
	ID="" APP=""
	for _ in $(seq 1 150); do
		ID=$(sed -n 's/^spok: execution \(sp-[a-z0-9]*\): SparkApplication in .*/\1/p' "$T/$1.err")
		if [ -n "$ID" ] && "$SPOK" status "$ID" --no-refresh -o json >"$T/s.json" 2>/dev/null &&
			[ -n "$(jget "$T/s.json" started_ms)" ]; then
			APP=$(jget "$T/s.json" resource_name)
			break
		fi
		sleep 0.2
	done
	[ -n "$APP" ] || { cat "$T/$1.err" >&2; echo "no SparkApplication created" >&2; exit 1; }
}
# finish NAME: the operator completes the app; sets RC and leaves the status in $T/NAME.json.
finish_app() {
	kcurl PATCH "$APPS/$APP/status" '{"status":{"applicationState":{"state":"COMPLETED"},"terminationTime":"2024-01-01T00:00:00Z"}}' \
		application/merge-patch+json || fail "patch status COMPLETED"
	wait "$RUNPID"
	RC=$?
	RUNPID=""
	"$SPOK" status "$ID" --no-refresh -o json >"$T/$1.json" 2>/dev/null
}

# 2. Success: outputs.pb.
start ok
kcurl GET "$APPS/$APP" && cp "$T/kcurl.out" "$T/app.json" || fail "GET $APP"
python3 - "$T/app.json" "$ID" "$LOCAL" <<'PY' && ok "args point into /var/spok/flyte/$ID; both templates mount the volume and put code/ on PYTHONPATH" || fail "SparkApplication: $(head -c 900 "$T/app.json")"
import json, sys
app, xid, local = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
d = "/var/spok/flyte/" + xid
a = app["spec"]["arguments"]
assert a[a.index("--inputs") + 1] == d + "/inputs.pb", a
assert a[a.index("--output-prefix") + 1] == d + "/outputs/0", a
assert a[a.index("--raw-output-data-prefix") + 1] == d + "/raw", a
for role in ("driver", "executor"):
    spec = app["spec"][role]["template"]["spec"]
    assert {"name": "spok-flyte-data", "hostPath": {"path": local, "type": "Directory"}} in spec["volumes"], spec
    c = spec["containers"][0]
    assert {"name": "spok-flyte-data", "mountPath": "/var/spok/flyte"} in c["volumeMounts"], c
    assert {"name": "PYTHONPATH", "value": d + "/code"} in c["env"], c
PY
"$PY" - "$LOCAL/$ID/inputs.pb" <<'PY' && ok "inputs.pb is a LiteralMap {partitions: 3}" || fail "inputs.pb does not decode to partitions=3"
import sys
from flyteidl.core import literals_pb2
m = literals_pb2.LiteralMap()
m.ParseFromString(open(sys.argv[1], "rb").read())
assert list(m.literals) == ["partitions"], m
assert m.literals["partitions"].scalar.primitive.integer == 3, m
PY
cmp -s "$LOCAL/$ID/code/pi.py" "$SRC/examples/flytekit/pi.py" && ok "code/pi.py copied from --python-path" ||
	fail "code/: $(ls -R "$LOCAL/$ID")"
[ "$(stat -c %a "$LOCAL/$ID/outputs/0")" = 777 ] && ok "outputs/0 writable by the pods' user" ||
	fail "outputs/0 mode $(stat -c %a "$LOCAL/$ID/outputs/0")"
cp "$FIX/outputs.pb" "$LOCAL/$ID/outputs/0/outputs.pb"
finish_app ok
[ $RC = 0 ] && ok "outputs.pb: exit 0" || fail "outputs.pb: exit $RC: $(tail -n 3 "$T/ok.err")"
[ "$(jget "$T/ok.json" phase)" = SUCCEEDED ] && [ "$(jget "$T/ok.json" outputs)" = '{"o0": 3.14159}' ] &&
	ok "SUCCEEDED, outputs $(jget "$T/ok.json" outputs) stored" || fail "status: $(head -c 600 "$T/ok.json")"
[ "$(tail -n 1 "$T/ok.out")" = '{"o0":3.14159}' ] && ok "outputs printed on stdout" ||
	fail "stdout: $(tail -n 2 "$T/ok.out")"

# 3. error.pb (a recoverable user error, as pyflyte-execute writes it): the attempt failed.
start err
cp "$FIX/error.pb" "$LOCAL/$ID/outputs/0/error.pb"
finish_app err
reason=$(jget "$T/err.json" reason)
[ $RC = 1 ] && [ "$(jget "$T/err.json" phase)" = RETRYABLE_FAILURE ] && [[ "$reason" == USER* ]] &&
	ok "error.pb: exit 1, RETRYABLE_FAILURE: $reason" || fail "error.pb: exit $RC: $(head -c 600 "$T/err.json")"

# 4. Nothing written: the task never reached flytekit's end.
start none
finish_app none
reason=$(jget "$T/none.json" reason)
[ $RC = 1 ] && [ "$(jget "$T/none.json" phase)" = RETRYABLE_FAILURE ] &&
	[[ "$reason" == "flytekit wrote neither outputs.pb nor error.pb to $LOCAL/$ID/outputs/0"* ]] &&
	ok "nothing written: exit 1: $reason" || fail "nothing written: exit $RC: $(head -c 600 "$T/none.json")"

kcurl DELETE "/api/v1/namespaces/$NS" || true
exit $FAILED
