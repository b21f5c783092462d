#!/usr/bin/env bash
# diskfull.sh SPOK_BINARY - the data dir fills up while a local run is running (a real tmpfs
# of 4 MiB as the data dir, filled by the test during the run, real Spark): spok cannot record
# the end, exits 74 naming the outcome file it kept; once there is room again, the next
# `spok list` records the real final phase. Needs root (mount); exits 77 (skipped) otherwise.
set -uo pipefail
SPOK=$1
T=$(mktemp -d /tmp/spok-diskfull-XXXXXX)
M=$T/data
FAILED=0

mkdir -p "$M"
if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$M" 2>"$T/mount.err"; then
	echo "diskfull: cannot mount a tmpfs here ($(cat "$T/mount.err")); skipped"
	rm -rf "$T"
	exit 77
fi
cleanup() {
	umount "$M" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
export SPOK_DATA_DIR=$M/data

fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }
has() { grep -q -- "$2" "$1" || { fail "$1 lacks '$2'"; sed 's/^/  | /' "$1" | tail -10 >&2; }; }

mkdir -p "$T/jobs"
cat >"$T/jobs/sleep.py" <<'EOF'
import time
print("started", flush=True)
time.sleep(12)
print("done", flush=True)
EOF
printf 'name: fills\ntype: PYTHON\nmainApplicationFile: sleep.py\n' >"$T/jobs/fills.yaml"

echo "=== the disk fills up during the run"
"$SPOK" run "$T/jobs/fills.yaml" -q >"$T/run.out" 2>"$T/run.err" &
RUNPID=$!
ID=""
for _ in $(seq 1 240); do
	ID=$(ls "$SPOK_DATA_DIR/runs" 2>/dev/null || true)
	[ -n "$ID" ] && grep -q started "$SPOK_DATA_DIR/runs/$ID/attempt-0.log" 2>/dev/null && break
	sleep 1
done
[ -n "$ID" ] || fail "the job never started"
# Fill every free block (dd stops at ENOSPC).
dd if=/dev/zero of="$M/fill" bs=16k 2>/dev/null
wait "$RUNPID"
rc=$?
[ "$rc" = 74 ] || fail "spok run on a full disk exited $rc, want 74"
has "$T/run.err" "ended SUCCEEDED, but the store cannot record it"
has "$T/run.err" "the outcome is kept in $SPOK_DATA_DIR/runs/$ID/outcome.json"
[ -s "$SPOK_DATA_DIR/runs/$ID/outcome.json" ] || fail "no outcome file"

echo "=== room again: the next spok list records the real end"
rm -f "$M/fill"
"$SPOK" list >"$T/list" 2>"$T/list.err"
row=$(awk -v id="$ID" '$1==id {print $3}' "$T/list")
[ "$row" = SUCCEEDED ] || fail "spok list shows '$row', want SUCCEEDED"
"$SPOK" status "$ID" -o json >"$T/status.json"
has "$T/status.json" '"phase": "SUCCEEDED"'
has "$T/status.json" '"exit_code": 0'
[ ! -e "$SPOK_DATA_DIR/runs/$ID/outcome.json" ] || fail "outcome file left after it was recorded"

if [ "$FAILED" != 0 ]; then
	echo "diskfull: FAILED" >&2
	exit 1
fi
echo "diskfull: all passed"
