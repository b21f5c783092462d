#!/usr/bin/env bash
# tests/cli/cli_readonly.sh SPOK - a data dir this user may only read (dir 0555, database 0444,
# e.g. a shared or archived one): `spok list`, `status`, `logs` of a finished run still answer,
# with rows still in the write-ahead log of a live writer too; writing commands and a log that
# truly cannot be read fail with one line naming the data dir and what to do.
# root ignores file modes, so as root the readers run as "nobody" (setpriv).
set -euo pipefail
SPOK=$1
T=$(mktemp -d)
chmod 0755 "$T"
D=$T/data
WRITER=
cleanup() {
	[ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null && wait "$WRITER" 2>/dev/null
	chmod -R u+w "$T" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }

AS=()
if [ "$(id -u)" = 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	# nobody must be able to reach the binary and its directory
	"${AS[@]}" test -x "$SPOK" || { echo "cli_readonly: $SPOK is not executable by nobody" >&2; exit 1; }
fi

# ro CMD...: runs spok as the reading user; stdout in $T/out, stderr in $T/err, status in $rc.
ro() {
	rc=0
	"${AS[@]}" "$SPOK" "$@" --data-dir "$D" >"$T/out" 2>"$T/err" || rc=$?
}

# A store made by spok itself, then rows as a finished local run and a running one leave them.
"$SPOK" list --data-dir "$D" >/dev/null
mkdir -p "$D/runs/sp-aaaaaaaaaa"
printf 'hello from the driver\n' >"$D/runs/sp-aaaaaaaaaa/attempt-0.log"
sqlite3 "$D/spok.db" "INSERT INTO executions (id, task_name, backend, phase, created_ms, started_ms,
 finished_ms, exit_code, log_path, run_dir) VALUES ('sp-aaaaaaaaaa', 'pi', 'local', 'SUCCEEDED',
 1700000000000, 1700000001000, 1700000060000, 0, '$D/runs/sp-aaaaaaaaaa/attempt-0.log',
 '$D/runs/sp-aaaaaaaaaa'), ('sp-bbbbbbbbbb', 'etl', 'local', 'RUNNING', 1700000100000, 0, 0,
 NULL, NULL, NULL);
 INSERT INTO attempts (execution_id, attempt, phase) VALUES ('sp-aaaaaaaaaa', 0, 'SUCCEEDED');
 INSERT INTO executions (id, task_name, backend, phase, created_ms, finished_ms, reason) VALUES ('sp-eeeeeeeeee',
 'etl', 'local', 'PERMANENT_FAILURE', 1700000200000, 1700000260000, 'boom' || char(27) || '[2J' || char(10) || 'second line');"
chmod -R a+rX "$D"
find "$D" -type f -exec chmod 0444 {} +
find "$D" -type d -exec chmod 0555 {} +

# Before the fix: "spok.db: enabling WAL failed: attempt to write a readonly database".
ro list
[ "$rc" = 0 ] || fail "list on a read-only data dir: exit $rc: $(cat "$T/err")"
grep -q 'sp-aaaaaaaaaa .*SUCCEEDED' "$T/out" || fail "list: no finished row: $(cat "$T/out")"
grep -q 'sp-bbbbbbbbbb' "$T/out" || fail "list: no running row"
ro list -o json
[ "$rc" = 0 ] || fail "list -o json: exit $rc: $(cat "$T/err")"
ro status sp-aaaaaaaaaa
[ "$rc" = 0 ] || fail "status: exit $rc: $(cat "$T/err")"
grep -q 'SUCCEEDED' "$T/out" || fail "status: no phase: $(cat "$T/out")"
# A stored reason (the operator's or Spark's words) reaches the terminal escaped, on one line.
ro status sp-eeeeeeeeee
[ "$rc" = 0 ] || fail "status of a failed row: exit $rc: $(cat "$T/err")"
grep -q 'Reason: *boom' "$T/out" || fail "status: no reason: $(cat "$T/out")"
! grep -q $'\x1b' "$T/out" || fail "status printed a stored reason's escape sequence raw"
! grep -q '^second line' "$T/out" || fail "status let a stored reason start a new line"
ro logs sp-aaaaaaaaaa
[ "$rc" = 0 ] || fail "logs: exit $rc: $(cat "$T/err")"
[ "$(cat "$T/out")" = "hello from the driver" ] || fail "logs: '$(cat "$T/out")'"
# Nothing was created next to the database.
[ ! -e "$D/spok.db-wal" ] && [ ! -e "$D/spok.db-shm" ] || fail "a reader left side files in $D"

# Writing needs write access: one line that says so, and the row is unchanged.
ro abort sp-bbbbbbbbbb
[ "$rc" != 0 ] || fail "abort on a read-only data dir succeeded"
[ "$(wc -l <"$T/err")" = 1 ] || fail "abort: stderr is not one line: $(cat "$T/err")"
grep -q "$D/spok.db: .*may only read the data dir" "$T/err" || fail "abort: $(cat "$T/err")"
[ "$(sqlite3 "$D/spok.db" "SELECT phase || abort_requested FROM executions WHERE id = 'sp-bbbbbbbbbb'")" = RUNNING0 ] ||
	fail "abort changed the row"

# A live writer (the owner) with rows only in its write-ahead log: readers see them.
chmod 0755 "$D"
chmod 0644 "$D/spok.db"
mkfifo "$T/sql"
sqlite3 "$D/spok.db" <"$T/sql" >/dev/null 2>&1 &
WRITER=$!
exec 3>"$T/sql"
printf '%s\n' "PRAGMA wal_autocheckpoint = 0;" \
	"INSERT INTO executions (id, task_name, phase, created_ms) VALUES ('sp-cccccccccc', 'wal', 'QUEUED', 1700000200000);" \
	"SELECT 1;" >&3
for _ in $(seq 1 200); do
	[ -s "$D/spok.db-wal" ] && [ -e "$D/spok.db-shm" ] && break
	sleep 0.05
done
[ -s "$D/spok.db-wal" ] || fail "the writer left no write-ahead log"
chmod 0555 "$D"
chmod 0444 "$D/spok.db"
ro list
[ "$rc" = 0 ] || fail "list with a live writer: exit $rc: $(cat "$T/err")"
grep -q 'sp-cccccccccc' "$T/out" || fail "list with a live writer: the row in the WAL is missing"
exec 3>&-
wait "$WRITER" || true
WRITER=

# A writer killed with -9 leaves its write-ahead log; without the log's index (-shm) and
# without write access SQLite cannot read that log, and the main file alone would be stale:
# one line naming the log and the data dir.
chmod 0755 "$D"
chmod 0644 "$D/spok.db"
sqlite3 "$D/spok.db" <"$T/sql" >/dev/null 2>&1 &
WRITER=$!
exec 3>"$T/sql"
printf '%s\n' "PRAGMA wal_autocheckpoint = 0;" \
	"INSERT INTO executions (id, task_name, phase, created_ms) VALUES ('sp-dddddddddd', 'lost', 'QUEUED', 1700000300000);" \
	"SELECT 1;" >&3
for _ in $(seq 1 200); do
	[ -s "$D/spok.db-wal" ] && break
	sleep 0.05
done
kill -9 "$WRITER"
wait "$WRITER" 2>/dev/null || true
WRITER=
exec 3>&-
[ -s "$D/spok.db-wal" ] || fail "the killed writer left no write-ahead log"
rm -f "$D/spok.db-shm"
chmod 0444 "$D/spok.db" "$D/spok.db-wal"
chmod 0555 "$D"
ro list
[ "$rc" != 0 ] || fail "list with an unreadable write-ahead log succeeded: $(cat "$T/out")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "unreadable WAL: stderr is not one line: $(cat "$T/err")"
grep -q "write-ahead log $D/spok.db-wal without write access to $D" "$T/err" ||
	fail "unreadable WAL: $(cat "$T/err")"

exit $FAILED
