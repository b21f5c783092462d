#!/usr/bin/env bash
# tests/cli/cli_format.sh SPOK SRC - how `spok` decides what a task file is (issue 8, items 1
# and 9): the extension first (.yaml/.yml/.json job file, .pb protobuf, .tgz package), the
# content only for other names; and a job file that once crashed the YAML library.
set -u
SPOK=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }

# expect RC LINE CMD...: exit status RC and stderr exactly LINE (one line; "" = any one line).
expect() {
	local want_rc=$1 want_err=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = "$want_rc" ] || fail "$*: exit $rc, want $want_rc ($(head -c 300 "$T/err"))"
	[ "$(wc -l <"$T/err")" -le 1 ] || fail "$*: stderr has more than one line"
	if [ -n "$want_err" ]; then
		[ "$(cat "$T/err")" = "$want_err" ] || fail "$*: stderr '$(cat "$T/err")', want '$want_err'"
	fi
}

HEAD=$'name: x\nmainApplicationFile: pi.py\nimage: spark:4.0.5\n'

# A valid UTF-8 job whose 3-byte character straddles byte 4096 (the sniffed head's end).
pad=$(printf '%*s' $((4095 - ${#HEAD} - 2)) '' | tr ' ' a)
printf '%s# %s\xe2\x82\xac\n' "$HEAD" "$pad" >"$T/straddle.yaml"
[ "$(head -c 4096 "$T/straddle.yaml" | tail -c 1 | od -An -tx1 | tr -d ' ')" = e2 ] ||
	fail "test bug: the euro sign does not start at byte 4096"
expect 0 "" "$SPOK" validate "$T/straddle.yaml"
cp "$T/straddle.yaml" "$T/straddle"  # no extension: sniffed, still YAML
expect 0 "" "$SPOK" validate "$T/straddle"

# One stray byte in the first 4 KiB of a .yaml: a YAML error at its position, not protobuf.
stray() { # NAME BYTES LINE:COL HEX
	printf "$2" >"$T/$1"
	expect 2 "spok: $T/$1:$3: invalid UTF-8 or control character (byte 0x$4); save the file as UTF-8 text" \
		"$SPOK" validate "$T/$1"
}
stray del.yaml "${HEAD}# \x7f\n" 4:3 7F
stray ctrl.yml "${HEAD}args: [\"a\x01\"]\n" 4:10 01
stray latin1.yaml "name: caf\xe9\nmainApplicationFile: pi.py\n" 1:10 E9
stray nul.yaml "${HEAD}\x00\n" 4:1 00
stray utf16.yaml '\xff\xfen\x00a\x00m\x00e\x00:\x00 \x00x\x00\n\x00' 1:1 FF
stray upper.YAML "${HEAD}# \x7f\n" 4:3 7F
# ... and the same through render.
expect 2 "spok: $T/del.yaml:4:3: invalid UTF-8 or control character (byte 0x7F); save the file as UTF-8 text" \
	"$SPOK" render "$T/del.yaml"

# The 6-byte job file that crashed libfyaml 0.7.12 (complex key, '::', a tab, ':').
printf '? ::\t:' >"$T/crash.yaml"
for cmd in validate render; do
	expect 2 "spok: $T/crash.yaml:1:6: mapping values are not allowed in this context; fix the YAML syntax" \
		"$SPOK" $cmd "$T/crash.yaml"
done

# Unknown extension and binary content: read as protobuf, and the error says so.
printf '\x0a\x03foo' >"$T/junk.bin"
expect 2 "" "$SPOK" validate "$T/junk.bin"
grep -q 'read as a Flyte TaskSpec/TaskTemplate protobuf' "$T/err" ||
	fail "sniffed protobuf error does not name the format: $(cat "$T/err")"
# A .pb is protobuf whatever its bytes; a .tgz must be gzip.
printf 'name: x\n' >"$T/text.pb"
expect 2 "" "$SPOK" validate "$T/text.pb"
grep -q 'TaskSpec or flyteidl.core.TaskTemplate' "$T/err" || fail ".pb error: $(cat "$T/err")"
printf 'name: x\n' >"$T/text.tgz"
expect 2 "spok: $T/text.tgz: not a pyflyte package (a .tgz must be gzip data); pass the file \`pyflyte package\` wrote" \
	"$SPOK" validate "$T/text.tgz"

if [ $FAILED = 0 ]; then echo "cli_format: all passed"; else echo "cli_format: FAILED"; exit 1; fi
