#!/usr/bin/env bash
# tests/cli/cli_ship.sh SPOK SRC - `spok run JOB --cluster` ships a local mainApplicationFile,
# against the real API server (fixture `k8s`; no kubelet, nothing plays the operator but this
# script): the ConfigMap <app>-files holds the file's bytes under our execution label and is
# owned by the SparkApplication, which names it as local:///opt/spok/files/pi.py and mounts it
# through its driver and executor templates; pyFiles/files entries ship in the same ConfigMap
# and are rewritten in spec.deps; files that cannot be shipped fail with one line and create
# nothing; the run's teardown (success, abort) deletes the ConfigMap.
set -u
SPOK=$1
SRC=$2
[ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ] || { echo "SPOK_K8S_ENV not set: run under the k8s fixture" >&2; exit 1; }
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$SPOK_K8S_ENV"
T=$(mktemp -d)
RUNPID=""
trap '[ -n "$RUNPID" ] && kill "$RUNPID" 2>/dev/null; rm -rf "$T"' EXIT
export SPOK_DATA_DIR="$T/data" XDG_CONFIG_HOME="$T/config" HOME="$T"
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
ok() { printf 'ok - %s\n' "$*"; }

NS="cli-ship-$$-$RANDOM"
API="$SPOK_TEST_APISERVER"
kcurl() { # kcurl METHOD PATH [JSON [CONTENT-TYPE]]: body in $T/kcurl.out
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: ${4:-application/json}" --data "$3")
	curl -sS --fail-with-body --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
		--key "$SPOK_TEST_ADMIN_KEY" -X "$1" "${body[@]}" "$API$2" >"$T/kcurl.out" 2>&1
}
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else (v.get(k) if isinstance(v, dict) else None)
print("" if v is None else (str(v).lower() if isinstance(v, bool) else v))' "$@"; }
count() { # count RESOURCE-PATH: items in the namespace
	kcurl GET "$1" || { echo "?"; return; }
	python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$T/kcurl.out"
}
APPS="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
CMS="/api/v1/namespaces/$NS/configmaps"
gone() { ! kcurl GET "$1"; }
wait_gone() { for _ in $(seq 1 150); do gone "$1" && return 0; sleep 0.2; done; return 1; }

kcurl POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}" ||
	{ cat "$T/kcurl.out" >&2; echo "cannot create namespace $NS" >&2; exit 1; }

# 1. The example as written (mainApplicationFile: pi.py, relative to the job file), from
#    another directory; followed in the foreground until this script plays the operator.
cd "$T"
"$SPOK" run "$SRC/examples/pi/pi.yaml" --cluster admin -n "$NS" -q >"$T/run.out" 2>"$T/run.err" &
RUNPID=$!
ID="" APP=""
for _ in $(seq 1 150); do
	ID=$(sed -n 's/^spok: execution \(sp-[a-z0-9]*\): SparkApplication in .*/\1/p' "$T/run.err")
	if [ -n "$ID" ] && "$SPOK" status "$ID" --no-refresh -o json >"$T/s0.json" 2>/dev/null &&
		[ -n "$(jget "$T/s0.json" started_ms)" ]; then
		APP=$(jget "$T/s0.json" resource_name)
		break
	fi
	sleep 0.2
done
[ -n "$APP" ] || { cat "$T/run.err" >&2; echo "no SparkApplication created" >&2; exit 1; }
kcurl GET "$APPS/$APP" && cp "$T/kcurl.out" "$T/app.json" || fail "GET $APP"
[ "$(jget "$T/app.json" spec.mainApplicationFile)" = "local:///opt/spok/files/pi.py" ] &&
	ok "mainApplicationFile rewritten" || fail "mainApplicationFile: $(jget "$T/app.json" spec.mainApplicationFile)"
for role in driver executor; do
	ctr=spark-kubernetes-$role
	[ "$(jget "$T/app.json" spec.$role.template.spec.volumes.0.configMap.name)" = "$APP-files" ] &&
	[ "$(jget "$T/app.json" spec.$role.template.spec.containers.0.name)" = "$ctr" ] &&
	[ "$(jget "$T/app.json" spec.$role.template.spec.containers.0.volumeMounts.0.mountPath)" = /opt/spok/files ] &&
	[ "$(jget "$T/app.json" spec.$role.template.spec.containers.0.volumeMounts.0.readOnly)" = true ] &&
		ok "$role template mounts $APP-files" || fail "$role template: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["spec"]["'$role'"].get("template"))' "$T/app.json")"
done
kcurl GET "$CMS/$APP-files" && cp "$T/kcurl.out" "$T/cm.json" || fail "GET configmap $APP-files: $(cat "$T/kcurl.out")"
python3 - "$T/cm.json" "$SRC/examples/pi/pi.py" <<'PY' && ok "ConfigMap holds pi.py's bytes, immutable" || fail "ConfigMap content: $(head -c 300 "$T/cm.json")"
import base64, json, sys
cm = json.load(open(sys.argv[1]))
sys.exit(0 if base64.b64decode(cm["binaryData"]["pi.py"]) == open(sys.argv[2], "rb").read()
         and cm.get("immutable") is True and list(cm["binaryData"]) == ["pi.py"] else 1)
PY
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["metadata"]["labels"].get("spok.dev/execution") == sys.argv[2] else 1)' "$T/cm.json" "$ID" &&
	ok "ConfigMap labelled spok.dev/execution=$ID" || fail "ConfigMap labels: $(head -c 400 "$T/cm.json")"
UID_APP=$(jget "$T/app.json" metadata.uid)
owned=no
for _ in $(seq 1 100); do
	kcurl GET "$CMS/$APP-files" && python3 -c 'import json,sys
refs = json.load(open(sys.argv[1]))["metadata"].get("ownerReferences") or []
sys.exit(0 if any(r["uid"] == sys.argv[2] and r["kind"] == "SparkApplication" for r in refs) else 1)' "$T/kcurl.out" "$UID_APP" &&
		{ owned=yes; break; }
	sleep 0.2
done
[ $owned = yes ] && ok "ConfigMap owned by SparkApplication $APP" || fail "no ownerReference: $(cat "$T/kcurl.out")"

# The operator finishes it: the run tears down the ConfigMap and the SparkApplication.
kcurl PATCH "$APPS/$APP/status" '{"status":{"applicationState":{"state":"COMPLETED"},"terminationTime":"2024-01-01T00:00:00Z"}}' \
	application/merge-patch+json || fail "patch status COMPLETED"
wait "$RUNPID"
rc=$?
RUNPID=""
[ $rc = 0 ] && ok "spok run --cluster exit 0" || fail "spok run exit $rc: $(tail -n 3 "$T/run.err")"
gone "$CMS/$APP-files" && ok "ConfigMap deleted at teardown" || fail "ConfigMap $APP-files left after success"
gone "$APPS/$APP" && ok "SparkApplication deleted at teardown" || fail "SparkApplication $APP left after success"

# 2. Files that cannot be shipped: one line naming the file and the limit; nothing created.
before_apps=$(count "$APPS") before_cms=$(count "$CMS")
mkdir -p "$T/bad/dir.py"
head -c $((1000 * 1024 + 1)) /dev/zero >"$T/bad/big.py"
head -c $((1000 * 1024)) /dev/zero >"$T/bad/fits.py"
job() { printf 'name: shipbad\nmainApplicationFile: %s\nimage: spark:x\n' "$1" >"$T/bad/job.yaml"; }
expect_err() { # expect_err MAINFILE PATTERN
	job "$1"
	"$SPOK" run "$T/bad/job.yaml" --cluster admin -n "$NS" -d -q >"$T/bad.out" 2>"$T/bad.err"
	local rc=$?
	if [ $rc -ne 0 ] && [ "$(wc -l <"$T/bad.err")" = 1 ] && grep -q -- "$2" "$T/bad.err"; then
		ok "$1: exit $rc, $(cat "$T/bad.err")"
	else
		fail "$1: exit $rc, stderr: $(cat "$T/bad.err")"
	fi
}
expect_err big.py "^spok: $T/bad/job.yaml: mainApplicationFile $T/bad/big.py: the shipped files come to more than 1000 KiB (the cap of one ConfigMap); put it in the image (local://) or a store (s3a://, https://)$"
expect_err missing.py "^spok: $T/bad/job.yaml: mainApplicationFile $T/bad/missing.py: cannot read it (No such file or directory); fix the path"
expect_err dir.py "^spok: $T/bad/job.yaml: mainApplicationFile $T/bad/dir.py: not a regular file"
expect_err "my file.py" "^spok: mainApplicationFile my file.py: the file name cannot be shipped"
[ "$(count "$APPS")" = "$before_apps" ] && [ "$(count "$CMS")" = "$before_cms" ] &&
	ok "nothing created by the refused runs" || fail "refused runs created objects: apps $(count "$APPS") (was $before_apps), configmaps $(count "$CMS") (was $before_cms)"
n=$("$SPOK" list -o json 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin) if x.get("task_name") == "shipbad"))')
[ "$n" = 0 ] && ok "nothing recorded for the refused runs" || fail "$n executions recorded for refused runs"

# 3. Exactly at the cap: shipped (the API server takes it); then `spok abort` tears it down.
job fits.py
"$SPOK" run "$T/bad/job.yaml" --cluster admin -n "$NS" -d -q >"$T/fit.out" 2>"$T/fit.err" ||
	fail "a file of exactly 1000 KiB: $(cat "$T/fit.err")"
ID2=$(cat "$T/fit.out")
APP2=$("$SPOK" status "$ID2" --no-refresh -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("resource_name") or "")')
kcurl GET "$CMS/$APP2-files" && ok "1000 KiB shipped in $APP2-files" || fail "no ConfigMap $APP2-files: $(cat "$T/kcurl.out")"
# -d returns once the owner reference is on it too (no wait here).
python3 -c 'import json,sys
refs = json.load(open(sys.argv[1]))["metadata"].get("ownerReferences") or []
sys.exit(0 if [r["name"] for r in refs] == [sys.argv[2]] else 1)' "$T/kcurl.out" "$APP2" &&
	ok "-d: $APP2-files owned by $APP2" || fail "-d: no ownerReference on $APP2-files"
"$SPOK" abort "$ID2" >"$T/abort.out" 2>&1 || fail "spok abort: $(cat "$T/abort.out")"
wait_gone "$CMS/$APP2-files" && ok "ConfigMap deleted after abort" || fail "ConfigMap $APP2-files left after abort"
wait_gone "$APPS/$APP2" && ok "SparkApplication deleted after abort" || fail "SparkApplication $APP2 left after abort"

# 4. pyFiles and files: local entries go into the same ConfigMap (relative to the job file)
#    and are rewritten in spec.deps; URIs pass through; a main file in the image stays as is.
mkdir -p "$T/deps/lib" "$T/deps/data" "$T/deps/a" "$T/deps/b"
printf 'def f():\n    return 1\n' >"$T/deps/lib/helper.py"
printf 'a\nb\n' >"$T/deps/data/words.txt"
cat >"$T/deps/job.yaml" <<'YAML'
name: shipdeps
mainApplicationFile: local:///opt/spark/examples/src/main/python/pi.py
image: spark:x
pyFiles: [lib/helper.py, s3a://bucket/deps/m.zip]
files: [data/words.txt, https://example.com/lookup.csv, local:///opt/x.txt]
YAML
"$SPOK" run "$T/deps/job.yaml" --cluster admin -n "$NS" -d -q >"$T/deps.out" 2>"$T/deps.err" ||
	fail "pyFiles/files job: $(cat "$T/deps.err")"
ID3=$(cat "$T/deps.out")
APP3=$("$SPOK" status "$ID3" --no-refresh -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("resource_name") or "")')
kcurl GET "$APPS/$APP3" && cp "$T/kcurl.out" "$T/app3.json" || fail "GET $APP3"
python3 - "$T/app3.json" <<'PY' && ok "spec.deps: local entries rewritten, URIs as written, main file kept" || fail "spec.deps: $(head -c 600 "$T/app3.json")"
import json, sys
s = json.load(open(sys.argv[1]))["spec"]
sys.exit(0 if s["deps"] == {
    "files": ["local:///opt/spok/files/words.txt", "https://example.com/lookup.csv", "local:///opt/x.txt"],
    "pyFiles": ["local:///opt/spok/files/helper.py", "s3a://bucket/deps/m.zip"]}
    and s["mainApplicationFile"] == "local:///opt/spark/examples/src/main/python/pi.py"
    and s["driver"]["template"]["spec"]["volumes"][0]["configMap"]["name"].endswith("-files") else 1)
PY
kcurl GET "$CMS/$APP3-files" && cp "$T/kcurl.out" "$T/cm3.json" || fail "no ConfigMap $APP3-files: $(cat "$T/kcurl.out")"
python3 - "$T/cm3.json" "$T/deps/lib/helper.py" "$T/deps/data/words.txt" <<'PY' && ok "ConfigMap $APP3-files holds helper.py and words.txt" || fail "ConfigMap: $(head -c 400 "$T/cm3.json")"
import base64, json, sys
b = json.load(open(sys.argv[1]))["binaryData"]
sys.exit(0 if sorted(b) == ["helper.py", "words.txt"]
         and base64.b64decode(b["helper.py"]) == open(sys.argv[2], "rb").read()
         and base64.b64decode(b["words.txt"]) == open(sys.argv[3], "rb").read() else 1)
PY
"$SPOK" abort "$ID3" >"$T/abort3.out" 2>&1 || fail "spok abort: $(cat "$T/abort3.out")"
wait_gone "$CMS/$APP3-files" && ok "deps ConfigMap deleted after abort" || fail "ConfigMap $APP3-files left after abort"

# The cap is on all shipped files together: a 600 KiB main file + a 500 KiB files entry is
# refused, naming the entry that went over; a missing pyFiles entry names itself; nothing is
# created.
before_apps=$(count "$APPS") before_cms=$(count "$CMS")
head -c $((600 * 1024)) /dev/zero >"$T/deps/main.py"
head -c $((500 * 1024)) /dev/zero >"$T/deps/data/big.bin"
printf 'x\n' >"$T/deps/a/x.txt"
printf 'x\n' >"$T/deps/b/x.txt"
printf 'name: shipbad\nmainApplicationFile: main.py\nimage: spark:x\nfiles: [data/big.bin]\n' >"$T/deps/big.yaml"
printf 'name: shipbad\nmainApplicationFile: local:///x.py\nimage: spark:x\npyFiles: [lib/nope.py]\n' >"$T/deps/missing.yaml"
printf 'name: shipbad\nmainApplicationFile: local:///x.py\nimage: spark:x\nfiles: [a/x.txt, b/x.txt]\n' >"$T/deps/twice.yaml"
expect_deps_err() { # expect_deps_err JOB PATTERN
	"$SPOK" run "$T/deps/$1" --cluster admin -n "$NS" -d -q >"$T/bad.out" 2>"$T/bad.err"
	local rc=$?
	if [ $rc -ne 0 ] && [ "$(wc -l <"$T/bad.err")" = 1 ] && grep -q -- "$2" "$T/bad.err"; then
		ok "$1: exit $rc, $(cat "$T/bad.err")"
	else
		fail "$1: exit $rc, stderr: $(cat "$T/bad.err")"
	fi
}
expect_deps_err big.yaml "^spok: $T/deps/big.yaml: files $T/deps/data/big.bin: the shipped files come to more than 1000 KiB (the cap of one ConfigMap)"
expect_deps_err missing.yaml "^spok: $T/deps/missing.yaml: pyFiles $T/deps/lib/nope.py: cannot read it (No such file or directory)"
expect_deps_err twice.yaml "^spok: files b/x.txt: another shipped file (a/x.txt) has the same base name; rename one of them$"
[ "$(count "$APPS")" = "$before_apps" ] && [ "$(count "$CMS")" = "$before_cms" ] &&
	ok "nothing created by the refused deps runs" || fail "refused deps runs created objects: apps $(count "$APPS") (was $before_apps), configmaps $(count "$CMS") (was $before_cms)"

kcurl DELETE "/api/v1/namespaces/$NS" || true
exit $FAILED
