# tests/node/lib.sh - shared by the node tests (sourced). Reads the fixture's env, gives
# api/wait helpers and TAP-ish ok/not_ok counters ending in "N passed, N failed".
DIR=${SPOK_NODE_DIR:?run under the k8s-node fixture (ctest -L node)}
if [ -f "$DIR/skipped" ]; then cat "$DIR/skipped"; exit 77; fi
[ -f "$DIR/env" ] || { echo "$DIR/env missing: the node_up fixture did not finish"; exit 1; }
while IFS='=' read -r k v; do
  [ -n "$k" ] && export "$k=$v"
done <"$DIR/env"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

api() { # api METHOD PATH [curl args]: body in $TMP/body, HTTP code in CODE
  local method=$1 path=$2; shift 2
  CODE=$(curl -sS -A spok-test --max-time 60 --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
    --key "$SPOK_TEST_ADMIN_KEY" -o "$TMP/body" -w '%{http_code}' -X "$method" "$@" "$SPOK_TEST_APISERVER$path")
}

# watch_to FILE PATH: a background watch (admin) appending events to FILE.
watch_to() {
  curl -sS -N -A spok-test --max-time 900 --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
    --key "$SPOK_TEST_ADMIN_KEY" "$SPOK_TEST_APISERVER$2" >"$1" 2>"$1.err" &
  PIDS+=($!)
}

# wait_for SECONDS CMD...: poll CMD every second.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}

jfield() { # jfield FILE DOTTED.PATH
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else (v.get(k) if isinstance(v, dict) else None)
print("" if v is None else v)' "$@"
}

# left_of ID: what of execution ID is in $NS: SparkApplications, pods, services and
# ConfigMaps named after it or owned by one that is (spark-submit's ConfigMap belongs to the
# driver pod), one kind/name a line. Other tests' runs are theirs to check.
left_of() {
  local k p
  for k in sparkapplications pods services configmaps; do
    p=/api/v1/namespaces/$NS/$k
    [ $k = sparkapplications ] && p=/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/$k
    api GET "$p"
    python3 -c 'import json,sys
for o in json.load(open(sys.argv[1])).get("items", []):
    md = o["metadata"]
    owners = [r.get("name", "") for r in md.get("ownerReferences", [])]
    if any(n.startswith(sys.argv[3]) for n in [md["name"]] + owners):
        print(sys.argv[2] + "/" + md["name"])' "$TMP/body" "$k" "$1"
  done
}
none_of() { [ -z "$(left_of "$1")" ]; }

# ui_start N [FLAGS]: `$SPOK ui $ID` in the background until it prints its URL (in URL; its
# pid in UIPID). The driver's UI comes up a little after the pod runs: until then it says so
# on one line and exits 3; retried.
ui_start() {
  local n=$1 deadline=$((SECONDS + 120)) rc
  shift
  while [ $SECONDS -lt $deadline ]; do
    "$SPOK" ui "$ID" --port 0 "$@" >"$TMP/ui$n.out" 2>"$TMP/ui$n.err" &
    UIPID=$!
    while kill -0 "$UIPID" 2>/dev/null && ! grep -q '^Spark UI of' "$TMP/ui$n.out"; do sleep 0.2; done
    if grep -q '^Spark UI of' "$TMP/ui$n.out"; then
      URL=$(sed -n "s|^Spark UI of $ID: \(http://127\.0\.0\.1:[0-9]*/\)$|\1|p" "$TMP/ui$n.out")
      PIDS+=("$UIPID")
      return 0
    fi
    wait "$UIPID"; rc=$?
    echo "# spok ui exit $rc: $(cat "$TMP/ui$n.err")"
    sleep 3
  done
  return 1
}
