#!/usr/bin/env bash
# auth.sh SPOK_BINARY - Spark Connect token auth of warm sessions with real servers and real
# pyspark clients: the URL `spok session url` prints works as it is (SparkSession.builder
# .remote and pyspark --remote's SPARK_REMOTE); a client without a token, with a wrong one or
# with the other session's is refused (UNAUTHENTICATED); the token alone by environment works;
# the gRPC port listens on 127.0.0.1 only; a restarted server has a new token and the old one
# is refused; the token is in none of `session list` (table, -o json), the store, the server's
# log or any process's argv, and its file is 0600.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip_unless_ready

cat >"$T/config.yaml" <<'YAML'
spok:
  pools:
    - name: small
      master: local[1]
      spark-conf:
        spark.driver.memory: 512m
YAML
export SPOK_CONFIG=$T/config.yaml

# client URL [ENV...]: a real client counts 7 rows through URL; its output in $T/client
client() {
	local url=$1
	shift
	env -u SPARK_CONNECT_AUTHENTICATE_TOKEN "$@" timeout 120 "$PY" -c '
import sys
from pyspark.sql import SparkSession
try:
    print("rows", SparkSession.builder.remote(sys.argv[1]).getOrCreate().range(7).count())
except Exception as e:
    print("refused" if "UNAUTHENTICATED" in str(e) else "error", " ".join(str(e).split())[:600])
' "$url" >"$T/client" 2>&1
}
token_of() { local t=${1#*;token=}; printf '%s' "${t%%;*}"; }

say "two sessions; their URLs carry a token each"
expect_rc 0 "$SPOK" session start a --pool small
expect_rc 0 "$SPOK" session url a
URLA=$(cat "$T/out")
expect_rc 0 "$SPOK" session start b --pool small
URLB=$(cat "$T/out")
case "$URLA" in sc://localhost:*/\;token=*\;user_id=*) ;; *) fail "a's url '$URLA'" ;; esac
TA=$(token_of "$URLA")
TB=$(token_of "$URLB")
[[ "$TA" =~ ^[0-9a-f]{64}$ ]] || fail "a's token is not 256 random bits in hex"
[ "$TA" != "$TB" ] || fail "a and b share a token"
PA=$(sget a port)
PB=$(sget b port)
USER_ID=$(sget a user_id)

say "with its token a client works; without, with a wrong one or the other's it is refused"
client "$URLA"
has "$T/client" "rows 7"
client "sc://localhost:$PA/;user_id=$USER_ID"
has "$T/client" "refused.*No authentication token provided"
# a wrong token: a's with its last digit changed (to 1 when it already ends in 0)
WRONG=${TA%?}0
[ "$WRONG" = "$TA" ] && WRONG=${TA%?}1
client "sc://localhost:$PA/;token=$WRONG;user_id=$USER_ID"
has "$T/client" "refused.*Invalid authentication token"
client "sc://localhost:$PA/;token=$TB;user_id=$USER_ID"
has "$T/client" "refused.*Invalid authentication token"
client "sc://localhost:$PB/;token=$TA;user_id=$USER_ID"
has "$T/client" "refused.*Invalid authentication token"
client "$URLB"
has "$T/client" "rows 7"
# pyspark --remote URL exports it as SPARK_REMOTE; the token may also come by environment
SPARK_REMOTE="$URLA" timeout 120 "$PY" -c '
from pyspark.sql import SparkSession
print("rows", SparkSession.builder.getOrCreate().range(5).count())' >"$T/client" 2>&1
has "$T/client" "rows 5"
client "sc://localhost:$PA/;user_id=$USER_ID" SPARK_CONNECT_AUTHENTICATE_TOKEN="$TA"
has "$T/client" "rows 7"

say "the gRPC port listens on loopback only"
"$PY" - "$PA" <<'PY' || fail "port $PA listens beyond loopback"
import sys
port = int(sys.argv[1])
found = False
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(f).readlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if state != "0A" or int(p, 16) != port:
            continue
        found = True
        # 127.x in the kernel's byte order ("0100007F"), or ::ffff:127.x
        ok = addr.upper().endswith("7F") if len(addr) == 8 else (
            addr.upper().startswith("0000000000000000FFFF0000") and addr.upper().endswith("7F"))
        if not ok:
            sys.exit(1)
sys.exit(0 if found else 1)
PY

say "the token is in no listing, store, log or argv; its file is 0600"
expect_rc 0 "$SPOK" session list
grep -q "$TA" "$T/out" && fail "session list shows the token"
expect_rc 0 "$SPOK" session list -o json
grep -q "$TA" "$T/out" && fail "session list -o json shows the token"
[ "$(sget a url)" = "sc://localhost:$PA/;user_id=$USER_ID" ] || fail "list's url of a: $(sget a url)"
for f in "$T"/data/spok.db*; do
	grep -q "$TA" "$f" && fail "$f holds the token"
done
grep -q "$TA" "$T/data/sessions/a/server.log" && fail "the server's log holds the token"
ps -eww -o args >"$T/ps" 2>&1
grep -q "$TA" "$T/ps" && fail "a process's argv holds the token"
[ "$(stat -c %a "$T/data/sessions/a/token")" = 600 ] || fail "token file mode $(stat -c %a "$T/data/sessions/a/token")"
[ "$(stat -c %a "$T/data/sessions/a")" = 700 ] || fail "session dir mode $(stat -c %a "$T/data/sessions/a")"

say "a restarted server has a new token; the old one is refused"
expect_rc 0 "$SPOK" session stop b
[ -e "$T/data/sessions/b/token" ] && fail "a stopped session's token file is left"
expect_rc 0 "$SPOK" session url b
URLB2=$(cat "$T/out")
[ "$(token_of "$URLB2")" != "$TB" ] || fail "b kept its token across a restart"
client "sc://localhost:$(sget b port)/;token=$TB;user_id=$USER_ID"
has "$T/client" "refused.*Invalid authentication token"
client "$URLB2"
has "$T/client" "rows 7"

expect_rc 0 "$SPOK" session stop a
expect_rc 0 "$SPOK" session stop b
[ "$FAILED" = 0 ] && echo "connect auth: all passed"
exit "$FAILED"
