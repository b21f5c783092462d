#!/usr/bin/env bash
# tests/server/serve_check.sh SPOK - `spok serve --check-config` on bad configs (issue 8):
# a token with no projects is refused with the token named; a bad cluster kubeconfig is a
# one-line error and nothing leaks (the binary runs under LSan, which would add a report and
# change the exit status); a job file over the map cap is refused with the field named.
set -u
SPOK=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FAILED=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILED=1; }

# expect RC NEEDLE CMD...: exit status RC, one stderr line holding NEEDLE, no sanitizer report.
expect() {
	local want_rc=$1 needle=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = "$want_rc" ] || fail "$*: exit $rc, want $want_rc: $(head -c 600 "$T/err")"
	if grep -q 'Sanitizer' "$T/err"; then
		fail "$*: sanitizer report: $(grep -m1 'Sanitizer' "$T/err")"
	elif [ -n "$needle" ]; then
		[ "$(wc -l <"$T/err")" -le 1 ] || fail "$*: stderr has more than one line"
		grep -qF -- "$needle" "$T/err" || fail "$*: stderr '$(cat "$T/err")' lacks '$needle'"
	fi
}

H=2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b
cat >"$T/kc.yaml" <<KC
apiVersion: v1
kind: Config
current-context: c
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
KC
cfg() { # cfg KUBECONFIG: a config with one cluster and the tokens file $T/tokens.yaml
	printf 'spok:\n  clusters:\n  - {name: a, kubeconfig: %s}\n  server: {tokens-file: tokens.yaml}\n' "$1" >"$T/config.yaml"
}
cfg kc.yaml

printf -- "- {name: ml, token-sha256: '%s', projects: [ml]}\n- {name: none, token-sha256: '%s', projects: []}\n" $H $H >"$T/tokens.yaml"
expect 2 "tokens[1].projects is empty: a token with no projects has no rights" \
	"$SPOK" serve --check-config --config "$T/config.yaml"
printf -- "- {name: none, token-sha256: '%s'}\n" $H >"$T/tokens.yaml"
expect 2 "tokens[0].projects is empty" "$SPOK" serve --check-config --config "$T/config.yaml"

printf -- "- {name: ml, token-sha256: '%s', projects: [ml], namespaces: [ml-shared]}\n- {name: root, token-sha256: '%s', admin: true}\n" $H $H >"$T/tokens.yaml"
expect 0 "" "$SPOK" serve --check-config --config "$T/config.yaml"
grep -q "configuration ok" "$T/out" || fail "check-config ok: stdout '$(cat "$T/out")'"

# A cluster whose kubeconfig is missing, then one that is not a kubeconfig: errors after
# the whole config was built (the path that leaked it).
cfg missing.yaml
expect 4 "cluster a" "$SPOK" serve --check-config --config "$T/config.yaml"
[ -s "$T/err" ] || fail "missing kubeconfig: no error line"
printf 'just: text\n' >"$T/bad-kc.yaml"
cfg bad-kc.yaml
"$SPOK" serve --check-config --config "$T/config.yaml" >"$T/out" 2>"$T/err"
rc=$?
[ $rc != 0 ] || fail "a bad kubeconfig passed --check-config"
grep -q 'Sanitizer' "$T/err" && fail "bad kubeconfig: sanitizer report: $(grep -m1 Sanitizer "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "bad kubeconfig: want one line, got: $(head -c 600 "$T/err")"

# The map cap: a job file with 40,000 labels is refused (quickly: the map is hashed) with
# the field named.
{
	printf 'name: many\nmainApplicationFile: local:///x.py\nlabels:\n'
	seq -f '  k%g: v' 1 40000
} >"$T/many.yaml"
expect 2 "labels: 40000 keys is over the cap of 1000" "$SPOK" validate "$T/many.yaml"

# A daemon that cannot listen after its clusters are open (the port is taken) says so in
# one line and exits without leaking the clusters' Kubernetes clients (their memory is freed
# from a timer that the failed start used to close before it fired).
cfg kc.yaml
printf -- "- {name: ml, token-sha256: '%s', projects: [ml]}\n" $H >"$T/tokens.yaml"
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/port" &
holder=$!
for ((i = 0; i < 100; i++)); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port")
SPOK_LOG=error expect 74 "listen 127.0.0.1:$port: cannot start the HTTP server" \
	"$SPOK" serve --config "$T/config.yaml" --data-dir "$T/data" --listen "127.0.0.1:$port"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

exit $FAILED
