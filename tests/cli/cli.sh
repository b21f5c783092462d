#!/usr/bin/env bash
# tests/cli/cli.sh SPOK SRC - the `spok` command line as a user meets it: render output,
# validate, and one-line errors with meaningful exit codes for bad files, flags and commands.
set -u
SPOK=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }

# expect RC LINE CMD...: exit status RC and stderr exactly LINE (one line).
expect() {
	local want_rc=$1 want_err=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = "$want_rc" ] || fail "$*: exit $rc, want $want_rc"
	if [ -n "$want_err" ]; then
		[ "$(wc -l <"$T/err")" -le 1 ] || fail "$*: stderr has more than one line"
		[ "$(cat "$T/err")" = "$want_err" ] || fail "$*: stderr '$(cat "$T/err")', want '$want_err'"
	fi
}

PI="$SRC/examples/pi/pi.yaml"

# The rendered SparkApplication of the Pi example, byte for byte.
expect 0 "" "$SPOK" render "$PI" --now-ms 1700000000000 --execution demo -n team-a
cmp -s "$T/out" "$SRC/tests/cli/data/pi-render.yaml" || {
	fail "render output differs from tests/cli/data/pi-render.yaml"
	diff "$SRC/tests/cli/data/pi-render.yaml" "$T/out" >"$T/diff"
	head -20 "$T/diff" >&2
}
# -o json is the same object.
expect 0 "" "$SPOK" render "$PI" --now-ms 1700000000000 --execution demo -n team-a -o json
grep -q '"name": "demo-n0-0"' "$T/out" || fail "-o json: no metadata.name demo-n0-0"
grep -q '"namespace": "team-a"' "$T/out" || fail "-o json: no namespace team-a"
# --no-ship: the local path as written, as Flyte's plugin would send it (no shipped files).
expect 0 "" "$SPOK" render "$PI" --execution demo -n team-a --no-ship -o json
grep -q '"mainApplicationFile": "pi.py"' "$T/out" || fail "--no-ship: mainApplicationFile rewritten"
# --submit direct: what spark-submit would create (docs/ARCHITECTURE.md "Direct submission").
expect 0 "" "$SPOK" render "$PI" --now-ms 1 --execution demo -n team-a --submit direct -o json
grep -q '"kind": "List"' "$T/out" || fail "--submit direct: not a List"
grep -q '"name": "demo-n0-0-conf"' "$T/out" || fail "--submit direct: no ConfigMap demo-n0-0-conf"
grep -q '"name": "demo-n0-0-driver"' "$T/out" || fail "--submit direct: no Pod demo-n0-0-driver"
grep -q '"name": "demo-n0-0-driver-svc"' "$T/out" || fail "--submit direct: no Service"
expect 2 "spok: spec.mainApplicationFile pi.py: direct submission does not upload local files; name a local:// path in the image or a remote URI (spok run --cluster ships local files as local://)" \
	"$SPOK" render "$PI" --submit direct --no-ship
expect 2 "spok: --submit spark: want operator or direct" "$SPOK" render "$PI" --submit spark
grep -q '"template"' "$T/out" && fail "--no-ship: a pod template"

expect 0 "" "$SPOK" validate "$PI"
[ "$(cat "$T/out")" = "$PI: ok (task pi, type PYTHON)" ] || fail "validate output: $(cat "$T/out")"

# Bad input: one line, a meaningful exit code.
expect 4 "spok: $T/nope.yaml: cannot open task file; check the path" "$SPOK" render "$T/nope.yaml"
expect 2 "spok: unknown flag --bogus; see --help" "$SPOK" render "$PI" --bogus
expect 2 "spok: -o xml: unknown output format; use yaml, json, wide or name" "$SPOK" render "$PI" -o xml
expect 2 "spok: unknown command 'frobnicate'; run 'spok help' for the list" "$SPOK" frobnicate
expect 2 "spok: --attempt x: expected an integer in [0, 1000]" "$SPOK" render "$PI" --attempt x
expect 4 "spok: $T/none.yaml: cannot open: No such file or directory" "$SPOK" render "$PI" --config "$T/none.yaml"
printf 'name: x\nmainClass: M\nsparkconf: {}\n' >"$T/typo.yaml"
expect 2 "spok: $T/typo.yaml:3:1: sparkconf: unknown key; did you mean 'sparkConf'?" "$SPOK" validate "$T/typo.yaml"
# A config Flyte's (non-strict) loader accepts loads: unknown keys and keys Flyte lower-cases
# are one warning line each, then the render goes on.
printf 'plugins:\n  k8s:\n    made-up: 1\n    default-env-vars: {AWS_REGION: x}\n' >"$T/flyte.yaml"
"$SPOK" render "$PI" --config "$T/flyte.yaml" -o json >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] || fail "config with an unknown key: exit $rc, want 0"
grep -qF "spok: warn: $T/flyte.yaml:3:5: plugins.k8s.made-up: unknown key; see docs/CONFIG.md for the valid keys (ignored, as Flyte ignores it)" "$T/err" ||
	fail "config with an unknown key: no warning naming it: $(cat "$T/err")"
grep -qF "$T/flyte.yaml:4:24: plugins.k8s.default-env-vars.AWS_REGION: Flyte's config loader lower-cases this key to 'aws_region'" "$T/err" ||
	fail "mapping-form key: no lower-casing warning: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 2 ] || fail "config warnings: want 2 lines, got $(wc -l <"$T/err")"
grep -qF '"name": "aws_region"' "$T/out" || fail "default-env-vars: want aws_region in the env"
printf 'plugins:\n  k8s:\n    default-annotations: {}\n' >"$T/empty.yaml"
"$SPOK" render "$PI" --config "$T/empty.yaml" -o json >"$T/out" 2>/dev/null
grep -qF '"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"' "$T/out" ||
	fail "default-annotations: {} must keep Flyte's safe-to-evict default"
printf 'name: x\n' >"$T/nomain.yaml"
"$SPOK" validate "$T/nomain.yaml" >/dev/null 2>"$T/err"
[ $? = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] || fail "job without main file: want exit 2 and one line"
expect 2 "" "$SPOK" render "$T"
[ "$(wc -l <"$T/err")" = 1 ] || fail "a directory as TASK: want one line"
printf '\x0a\x03foo' >"$T/junk.pb"
"$SPOK" render "$T/junk.pb" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] || fail "junk protobuf: exit $rc, want 2 and one line"

expect 0 "" "$SPOK" version
expect 0 "" "$SPOK" help

if [ $FAILED = 0 ]; then echo "cli: all passed"; else echo "cli: FAILED"; exit 1; fi
