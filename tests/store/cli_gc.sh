#!/usr/bin/env bash
# tests/store/cli_gc.sh SPOK - `spok gc --older-than DURATION` as a user meets it: bad flags
# are one line and exit 2; it deletes only finished executions that ended before the cut-off
# (never a running one, nor a retryable failure with attempts left) with their run dir and
# the daemon's task file, and leaves everything else; -o json; a data dir this user may only
# read is one line and exit 74 (as root the gc runs as "nobody" there, via setpriv). Then the
# daemon's retention (spok.server.retention): bad values are one line naming the field, and
# `spok serve` deletes old finished rows on its own while it serves.
set -euo pipefail
SPOK=$1
T=$(mktemp -d)
chmod 0755 "$T"
D=$T/data
HOLDER=
cleanup() {
	[ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null || true
	chmod -R u+w "$T" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }

# expect RC LINE CMD...: exit status RC and stderr exactly LINE (one line; "" = any).
expect() {
	local want_rc=$1 want_err=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$want_rc" ] || fail "$*: exit $rc, want $want_rc: $(cat "$T/err")"
	if [ -n "$want_err" ]; then
		[ "$(wc -l <"$T/err")" -le 1 ] || fail "$*: stderr has more than one line"
		[ "$(cat "$T/err")" = "$want_err" ] || fail "$*: stderr '$(cat "$T/err")', want '$want_err'"
	fi
}

export SPOK_DATA_DIR=$D
expect 2 "spok: gc: --older-than is required; e.g. --older-than 720h keeps the last 30 days" "$SPOK" gc
expect 2 "spok: --older-than 3d: expected a duration like 10s, 500ms, 2m or 1h30m" "$SPOK" gc --older-than 3d
expect 2 "spok: --older-than -5s: expected a duration like 10s, 500ms, 2m or 1h30m" "$SPOK" gc --older-than -5s
expect 2 "spok: gc: takes no arguments; usage: spok gc --older-than DURATION [-o json|yaml]" "$SPOK" gc sp-x --older-than 1h
expect 2 "spok: -o wide: gc prints json or yaml; use one of them" "$SPOK" gc --older-than 1h -o wide
expect 2 "spok: --older-than 999999999999: longer than 10000 years; give e.g. 720h" "$SPOK" gc --older-than 999999999999
expect 0 "" "$SPOK" gc --help

# A store made by spok itself, then rows: old finished ones (one with a run dir, one with the
# daemon's task file), and old ones that must stay (running, retrying) plus a recent one.
NOW=$(($(date +%s) * 1000))
OLD=$((NOW - 40 * 86400 * 1000))
"$SPOK" list >/dev/null
mkdir -p "$D/runs/sp-aaaaaaaaaa" "$D/runs/sp-bbbbbbbbbb" "$D/server/tasks"
printf 'driver log\n' >"$D/runs/sp-aaaaaaaaaa/attempt-0.log"
printf 'task\n' >"$D/server/tasks/r-cccccccccc.yaml"
printf 'mine\n' >"$T/job.yaml"
sqlite3 "$D/spok.db" "INSERT INTO executions (id, task_name, backend, phase, attempt, max_attempts,
 created_ms, finished_ms, run_dir, task_source) VALUES
 ('sp-aaaaaaaaaa', 'pi', 'local', 'SUCCEEDED', 0, 1, $OLD, $OLD, '$D/runs/sp-aaaaaaaaaa', '$T/job.yaml'),
 ('sp-bbbbbbbbbb', 'pi', 'local', 'RUNNING', 0, 1, $OLD, 0, '$D/runs/sp-bbbbbbbbbb', NULL),
 ('sp-cccccccccc', 'etl', 'kind', 'PERMANENT_FAILURE', 0, 1, $OLD, $OLD, NULL, '$D/server/tasks/r-cccccccccc.yaml'),
 ('sp-dddddddddd', 'etl', 'kind', 'RETRYABLE_FAILURE', 0, 3, $OLD, $OLD, NULL, NULL),
 ('sp-eeeeeeeeee', 'etl', 'kind', 'SUCCEEDED', 0, 1, $NOW, $NOW, NULL, NULL);
 INSERT INTO attempts (execution_id, attempt, phase) VALUES ('sp-aaaaaaaaaa', 0, 'SUCCEEDED');"
# the running one's supervisor is alive: it holds the run's lock (as src/local does)
(exec 9>"$D/runs/sp-bbbbbbbbbb/supervisor.lock" && flock 9 && exec sleep 600) </dev/null >/dev/null 2>&1 &
HOLDER=$!
for _ in $(seq 100); do
	flock -n "$D/runs/sp-bbbbbbbbbb/supervisor.lock" true || break
	sleep 0.1
done

expect 0 "" "$SPOK" gc --older-than 720h -o json
python3 - "$T/out" <<'EOF' || fail "gc -o json: $(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["deleted"] == 2 and j["files"] == 2 and j["kept"] == 0, j
assert j["before"].endswith("Z"), j
EOF
expect 0 "" "$SPOK" list -o json
python3 - "$T/out" <<'EOF' || fail "rows after gc: $(cat "$T/out")"
import json, sys
ids = sorted(x["id"] for x in json.load(open(sys.argv[1])))
assert ids == ["sp-bbbbbbbbbb", "sp-dddddddddd", "sp-eeeeeeeeee"], ids
EOF
[ ! -e "$D/runs/sp-aaaaaaaaaa" ] || fail "the finished run's dir is still there"
[ -e "$D/runs/sp-bbbbbbbbbb" ] || fail "the running execution's dir is gone"
[ ! -e "$D/server/tasks/r-cccccccccc.yaml" ] || fail "the daemon's task file is still there"
[ -e "$T/job.yaml" ] || fail "a job file outside the data dir was deleted"
[ "$(sqlite3 "$D/spok.db" "SELECT count(*) FROM attempts WHERE execution_id = 'sp-aaaaaaaaaa'")" = 0 ] ||
	fail "the deleted execution's attempts are still there"
# counters follow (the daemon's /metrics reads them)
[ "$(sqlite3 "$D/spok.db" "SELECT sum(n) FROM phase_counts")" = 3 ] || fail "phase_counts not 3 rows"

# Nothing left to do: the plain output says so.
expect 0 "" "$SPOK" gc --older-than 720h
grep -q '^deleted 0 finished executions (ended before [0-9T:-]*Z) and 0 files$' "$T/out" ||
	fail "second gc: $(cat "$T/out")"
# 0 takes every finished row no engine needs: the recent one goes too, the others stay.
expect 0 "" "$SPOK" gc --older-than 0 -o yaml
grep -q '^deleted: 1$' "$T/out" || fail "gc --older-than 0: $(cat "$T/out")"

# The daemon applies spok.server.retention by itself (no cluster needed: its kubeconfig
# points at a closed port, so the cluster is down and the daemon serves degraded).
S=$T/serve
mkdir -p "$S/data"
cat >"$S/kc.yaml" <<KC
apiVersion: v1
kind: Config
current-context: c
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
KC
printf -- "- {name: root, token-sha256: '%s', admin: true}\n" \
	2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b >"$S/tokens.yaml"
serve_cfg() {
	printf 'spok:\n  clusters:\n  - {name: a, kubeconfig: kc.yaml}\n  server: {tokens-file: tokens.yaml, retention: %s}\n' "$1" >"$S/config.yaml"
}
for bad in 10s 3d "'-1h'" "[1]"; do
	serve_cfg "$bad"
	expect 2 "" "$SPOK" serve --check-config --config "$S/config.yaml"
	grep -q 'spok.server.retention: expected a duration of 1m to 87600h such as 720h' "$T/err" ||
		fail "retention $bad: $(cat "$T/err")"
done
serve_cfg 720h
expect 0 "" "$SPOK" serve --check-config --config "$S/config.yaml"
"$SPOK" list --data-dir "$S/data" >/dev/null
sqlite3 "$S/data/spok.db" "INSERT INTO executions (id, backend, phase, created_ms, finished_ms) VALUES
 ('sp-old1', 'kind', 'SUCCEEDED', $OLD, $OLD), ('sp-old2', 'kind', 'ABORTED', $OLD, $OLD),
 ('sp-oldrunning', 'kind', 'RUNNING', $OLD, 0), ('sp-new', 'kind', 'SUCCEEDED', $NOW, $NOW)"
SPOK_LOG=info "$SPOK" serve --config "$S/config.yaml" --data-dir "$S/data" --listen 127.0.0.1:0 \
	>"$S/out" 2>"$S/log" &
SERVER=$!
left=4
for _ in $(seq 600); do
	left=$(sqlite3 "$S/data/spok.db" "SELECT count(*) FROM executions") || left=?
	[ "$left" = 2 ] && break
	kill -0 "$SERVER" 2>/dev/null || break
	sleep 0.1
done
[ "$left" = 2 ] || fail "the daemon's retention left $left rows: $(tail -5 "$S/log")"
ids=$(sqlite3 "$S/data/spok.db" "SELECT group_concat(id, ' ') FROM (SELECT id FROM executions ORDER BY id)")
[ "$ids" = "sp-new sp-oldrunning" ] || fail "the daemon's retention kept: $ids"
kill -TERM "$SERVER"
rc=0
wait "$SERVER" || rc=$?
[ "$rc" = 0 ] || fail "spok serve: exit $rc after SIGTERM: $(tail -5 "$S/log")"
grep -q 'serve: retention: deleted 2 finished executions older than 2592000 s' "$S/log" ||
	fail "no retention line in the daemon's log: $(tail -5 "$S/log")"
grep -q 'Sanitizer' "$S/log" && fail "spok serve: sanitizer report: $(grep -m1 Sanitizer "$S/log")"

# A data dir that is a file; one this user may only read.
printf 'x' >"$T/file"
expect 74 "" "$SPOK" gc --older-than 1h --data-dir "$T/file"
AS=()
[ "$(id -u)" = 0 ] && AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ ${#AS[@]} = 0 ] || "${AS[@]}" test -x "$SPOK"; then
	chmod -R a+rX "$D"
	find "$D" -type f -exec chmod 0444 {} +
	find "$D" -type d -exec chmod 0555 {} +
	expect 74 "spok: $D/spok.db: deleting finished executions needs write access; run it as the owner of the data dir" \
		"${AS[@]}" "$SPOK" gc --older-than 1h --data-dir "$D"
fi
exit $FAILED
