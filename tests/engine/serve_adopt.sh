#!/usr/bin/env bash
# tests/engine/serve_adopt.sh SPOK - `spok serve` killed with -9 and left a zombie (its parent
# does not reap it, as a supervisor that is not init may not), against the real API server
# (fixture `k8s`; this script plays the operator through /status). The next daemon must
# follow every execution (a zombie's pid still answers kill(pid, 0), which used to count
# as "another daemon follows it"), and an abort through its API must delete the object
# (it used to answer 202 and do nothing).
set -euo pipefail
SPOK=$1
[ -n "${SPOK_K8S_ENV:-}" ] && [ -r "$SPOK_K8S_ENV" ] || { echo "SPOK_K8S_ENV not set: run under the k8s fixture" >&2; exit 1; }
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$SPOK_K8S_ENV"
T=$(mktemp -d)
HOLDER= DAEMON=
PROJECT="adopt$$"
NS="$PROJECT-development"
N=4
TOKEN="adopt-test-token-$$-$RANDOM"
API="$SPOK_TEST_APISERVER"
APPS="/apis/sparkoperator.k8s.io/v1beta2/namespaces/$NS/sparkapplications"
GUARD=600 # x 0.1 s: turns a hang into a failure, asserts nothing about time

kcurl() { # kcurl METHOD PATH [JSON [CONTENT-TYPE]] -> $T/k.out
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: ${4:-application/json}" --data "$3")
	curl -sS --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" --key "$SPOK_TEST_ADMIN_KEY" \
		-o "$T/k.out" -w '%{http_code}' -X "$1" "${body[@]}" "$API$2"
}
cleanup() {
	local rc=$?
	if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; fi
	# the holder's exit lets init reap the zombie
	if [ -n "$HOLDER" ]; then kill "$HOLDER" 2>/dev/null || true; wait "$HOLDER" 2>/dev/null || true; fi
	kcurl DELETE "/api/v1/namespaces/$NS" >/dev/null 2>&1 || true
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
die() { printf 'FAIL: %s\n' "$*" >&2; for f in "$T"/d*.log; do [ -f "$f" ] && tail -n 5 "$f" >&2; done; exit 1; }
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$@"; }
# waitfor WHAT CMD...: polls CMD until it succeeds (bounded).
waitfor() {
	local what=$1 i
	shift
	for ((i = 0; i < GUARD; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	die "gave up waiting for $what"
}
# spok API: sapi METHOD PATH [JSON] -> $T/s.out, prints the HTTP status
sapi() {
	local body=()
	[ $# -ge 3 ] && body=(-H "Content-Type: application/json" --data "$3")
	curl -sS -o "$T/s.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -X "$1" "${body[@]}" \
		"http://127.0.0.1:$PORT$2"
}
phase_is() { [ "$(sapi GET "/api/v1/executions/$1")" = 200 ] && [ "$(jget "$T/s.out" phase)" = "$2" ]; }
app_count() { [ "$(kcurl GET "$APPS")" = 200 ] && [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$T/k.out")" = "$1" ]; }
app_gone() { [ "$(kcurl GET "$APPS/$1")" = 404 ]; }
port_of() { # port_of FILE: the port from the daemon's "listening on" line
	local l
	l=$(head -n 1 "$1" 2>/dev/null || true)
	case "$l" in "listening on http://127.0.0.1:"*) PORT=${l##*:}; return 0 ;; esac
	return 1
}
is_zombie() { [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]; }

[ "$(kcurl POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}")" = 201 ] ||
	die "cannot create namespace $NS: $(cat "$T/k.out")"
printf -- '- {name: admin, token-sha256: %s, admin: true}\n' "$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$T/tokens.yaml"
cat >"$T/config.yaml" <<EOF
spok:
  default-image: spark:4.0.5
  spark-version: 4.0.5
  clusters:
  - {name: good, kubeconfig: '$KUBECONFIG', context: admin, labels: {pool: main}}
  routes:
  - {project: '*', domain: '*', cluster-labels: {pool: main}}
  server: {listen: '127.0.0.1:0', tokens-file: tokens.yaml}
EOF

# Daemon 1, child of a process that never waits: once killed it stays a zombie.
(
	"$SPOK" serve --config "$T/config.yaml" --data-dir "$T/data" >"$T/d1.out" 2>"$T/d1.log" &
	echo $! >"$T/d1.pid"
	exec sleep 100000
) &
HOLDER=$!
waitfor "daemon 1 to listen" port_of "$T/d1.out"
D1=$(cat "$T/d1.pid")
IDS=()
for i in $(seq 1 $N); do
	code=$(sapi POST /api/v1/executions "{\"task\":{\"name\":\"pi\",\"project\":\"$PROJECT\",\"domain\":\"development\",\"type\":\"python\",\"mainApplicationFile\":\"local:///opt/spark/examples/src/main/python/pi.py\"}}")
	[ "$code" = 201 ] || die "submit $i: HTTP $code: $(cat "$T/s.out")"
	IDS+=("$(jget "$T/s.out" id)")
done
waitfor "$N SparkApplications" app_count $N

kill -9 "$D1"
waitfor "daemon 1 to be a zombie" is_zombie "$D1"
kill -0 "$D1" || die "the zombie does not answer kill -0 (the test would prove nothing)"

"$SPOK" serve --config "$T/config.yaml" --data-dir "$T/data" >"$T/d2.out" 2>"$T/d2.log" &
DAEMON=$!
waitfor "daemon 2 to listen" port_of "$T/d2.out"

# Every execution is followed: the operator's RUNNING reaches the store through daemon 2.
for id in "${IDS[@]}"; do
	[ "$(sapi GET "/api/v1/executions/$id")" = 200 ] || die "get $id: $(cat "$T/s.out")"
	name=$(jget "$T/s.out" resourceName)
	[ "$(kcurl PATCH "$APPS/$name/status" '{"status":{"applicationState":{"state":"RUNNING"}}}' application/merge-patch+json)" = 200 ] ||
		die "patch $name: $(cat "$T/k.out")"
	waitfor "$id to be followed (RUNNING) by the new daemon" phase_is "$id" RUNNING
done

# Abort really aborts: ABORTED and the object deleted.
victim=${IDS[0]}
[ "$(sapi GET "/api/v1/executions/$victim")" = 200 ] && vname=$(jget "$T/s.out" resourceName)
[ "$(sapi POST "/api/v1/executions/$victim/abort")" = 202 ] || die "abort: $(cat "$T/s.out")"
waitfor "$victim ABORTED" phase_is "$victim" ABORTED
waitfor "the aborted object $vname to be deleted" app_gone "$vname"

# The others run to the end.
for id in "${IDS[@]:1}"; do
	[ "$(sapi GET "/api/v1/executions/$id")" = 200 ] && name=$(jget "$T/s.out" resourceName)
	[ "$(kcurl PATCH "$APPS/$name/status" '{"status":{"applicationState":{"state":"COMPLETED"}}}' application/merge-patch+json)" = 200 ] ||
		die "patch $name: $(cat "$T/k.out")"
	waitfor "$id SUCCEEDED" phase_is "$id" SUCCEEDED
	waitfor "$name to be torn down" app_gone "$name"
done
kill "$DAEMON"
wait "$DAEMON" || die "daemon 2 did not exit cleanly on SIGTERM"
DAEMON=
echo "serve_adopt: $N executions followed after kill -9 left a zombie; abort deleted its object"
