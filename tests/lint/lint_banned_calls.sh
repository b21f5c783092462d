#!/usr/bin/env bash
# lint_banned_calls.sh SOURCE_DIR - scripts/lint's banned-call check on a fixture: a call is
# caught when a comment trails it on the same line, and a banned name inside a comment or a
# string literal is not reported. The fixture marks the lines that must be reported.
set -euo pipefail
src=$1
fixture="$src/tests/lint/banned_calls.fixture"
fail() { echo "FAIL: $*" >&2; exit 1; }

rc=0
out=$("$src/scripts/lint" --banned "$fixture" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "scripts/lint --banned exited $rc, want 1; output: $out"
got=$(sed -nE 's|^.*banned_calls\.fixture:([0-9]+): .*|\1|p' <<<"$out" | tr '\n' ' ')
want=$(grep -nE '(/\*|//).*LINT-HIT' "$fixture" | cut -d: -f1 | tr '\n' ' ')
[ -n "$want" ] || fail "the fixture marks no line"
[ "$got" = "$want" ] || fail "reported lines [$got], want [$want]; output: $out"

# A clean file passes.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '/* sprintf(b, x) */\nint f(void);\nconst char *s = "system(x)";\n' >"$tmp/clean.c"
"$src/scripts/lint" --banned "$tmp/clean.c" >/dev/null 2>&1 || fail "a clean file was reported"
echo "lint_banned_calls: ok ($(wc -w <<<"$want") calls caught, none in comments or strings)"
