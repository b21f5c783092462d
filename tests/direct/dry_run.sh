#!/usr/bin/env bash
# tests/direct/dry_run.sh SPOK SRC - the objects of direct submission pass the real API
# server's validation (fixture `k8s`; `?dryRun=All`, so nothing is stored): every golden case's
# ConfigMap, driver Pod and Service (tests/direct/golden/*/expected.json), and what
# `spok render --submit direct` prints for the examples, each created in a fresh namespace.
set -u
SPOK=$1
SRC=$2
[ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ] || { echo "SPOK_K8S_ENV not set: run under the k8s fixture" >&2; exit 1; }
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$SPOK_K8S_ENV"
T=$(mktemp -d)
export HOME="$T" XDG_CONFIG_HOME="$T/config" # no user config: the built-in platform
unset SPOK_CONFIG
NS="direct-dry-$$-$RANDOM"
API="$SPOK_TEST_APISERVER"
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
kcurl() { # kcurl METHOD PATH [BODY-FILE]: answer in $T/kcurl.out
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: application/json" --data-binary "@$3")
	curl -sS --fail-with-body --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" \
		--key "$SPOK_TEST_ADMIN_KEY" -X "$1" "${body[@]}" "$API$2" >"$T/kcurl.out" 2>&1
}
PC=""
trap 'kcurl DELETE "/api/v1/namespaces/$NS"; [ -n "$PC" ] && kcurl DELETE "$PC"; rm -rf "$T"' EXIT
printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' "$NS" >"$T/ns.json"
kcurl POST /api/v1/namespaces "$T/ns.json" || { cat "$T/kcurl.out" >&2; echo "cannot create namespace $NS" >&2; exit 1; }
# The service account every case names (the admission plugin looks it up, even in a dry run).
printf '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"spark"}}' >"$T/sa.json"
kcurl POST "/api/v1/namespaces/$NS/serviceaccounts" "$T/sa.json" || { cat "$T/kcurl.out" >&2; exit 1; }
# The PriorityClass case 09 names (cluster-wide: made here only if absent, removed after).
if ! kcurl GET /apis/scheduling.k8s.io/v1/priorityclasses/high-priority; then
	printf '{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"high-priority"},"value":1000}' >"$T/pc.json"
	kcurl POST /apis/scheduling.k8s.io/v1/priorityclasses "$T/pc.json" && PC=/apis/scheduling.k8s.io/v1/priorityclasses/high-priority
fi

# split LIST-FILE LABEL: one file per item, moved into $NS, as $T/items/NN-kind.json
split() {
	rm -rf "$T/items" && mkdir "$T/items"
	python3 - "$1" "$NS" "$T/items" <<'PY' || fail "$2: not a List of three objects"
import json, sys
lst = json.load(open(sys.argv[1]))
assert lst["kind"] == "List" and len(lst["items"]) == 3
for i, o in enumerate(lst["items"]):
    o["metadata"]["namespace"] = sys.argv[2]
    json.dump(o, open("%s/%d-%s.json" % (sys.argv[3], i, o["kind"].lower()), "w"))
PY
}

# dry_run LIST-FILE LABEL: POST each item with dryRun=All; the answer is the object as stored.
dry_run() {
	local f kind path n=0
	split "$1" "$2"
	for f in "$T"/items/*.json; do
		kind=${f##*-}
		case "$kind" in
		configmap.json) path=configmaps ;;
		pod.json) path=pods ;;
		service.json) path=services ;;
		*) fail "$2: unexpected item $f"; continue ;;
		esac
		if kcurl POST "/api/v1/namespaces/$NS/$path?dryRun=All" "$f"; then
			n=$((n + 1))
		else
			fail "$2: $path refused: $(head -c 600 "$T/kcurl.out")"
		fi
	done
	[ "$n" = 3 ] && printf 'ok - %s\n' "$2"
}

cases=0
for d in "$SRC"/tests/direct/golden/*/; do
	[ -f "$d/expected.json" ] || continue
	dry_run "$d/expected.json" "golden $(basename "$d")"
	cases=$((cases + 1))
done
[ "$cases" -ge 10 ] || fail "only $cases golden cases found"
for job in examples/pi/pi.yaml examples/java/sparkpi.yaml; do
	[ -f "$SRC/$job" ] || continue
	if "$SPOK" render "$SRC/$job" --submit direct -n "$NS" -o json >"$T/render.json" 2>"$T/render.err"; then
		dry_run "$T/render.json" "spok render $job --submit direct"
	else
		fail "spok render $job --submit direct: $(cat "$T/render.err")"
	fi
done
# Nothing was stored.
kcurl GET "/api/v1/namespaces/$NS/pods" && python3 -c 'import json,sys
sys.exit(len(json.load(open(sys.argv[1]))["items"]) != 0)' "$T/kcurl.out" || fail "a dry run stored a pod"
[ "$FAILED" = 0 ] && echo "direct dry run: all passed"
exit "$FAILED"
