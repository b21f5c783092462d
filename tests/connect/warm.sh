#!/usr/bin/env bash
# warm.sh SPOK_BINARY - `spok run --warm` with a real Spark Connect server and real pyspark
# clients: the DataFrame Pi example gives the right answer on the pool's session (started by
# the run); two concurrent warm runs are separate Connect sessions (their conf and temp views
# do not leak); `spok abort` of one warm run interrupts its operation on the server and
# nothing of the other run, which goes on to succeed; an RDD job the up-front check cannot see
# fails on Connect's "not supported" error and falls back to a normal local run with the
# reason in its log and its record; one the check sees runs normally from the start; the job's
# pyFiles/files are uploaded to its own session (a UDF importing them works, another session
# does not see them, files outside the job's directory are refused); spok.warm-rules and the
# task's sparkConf spok.cold route runs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip_unless_ready

J=$T/jobs
mkdir -p "$J" "$T/sync"
cat >"$T/config.yaml" <<'YAML'
spok:
  pools:
    - name: default
      master: local[2]
      idle-timeout: 10m
  warm-rules:
    - name: 'rule*'
      labels: {size: small}
YAML
export SPOK_CONFIG=$T/config.yaml
job() { # job NAME FILE ARGS...: a job file running FILE with ARGS
	local name=$1 file=$2
	shift 2
	{
		echo "name: $name"
		echo "type: PYTHON"
		echo "mainApplicationFile: $file"
		printf 'args: ['
		local sep=""
		for a in "$@"; do printf '%s"%s"' "$sep" "$a"; sep=", "; done
		echo "]"
	} >"$J/$name.yaml"
}
sid_of() { # the Connect session id spok gives execution $1 ("spok" + the id's bytes, hex)
	printf '%s' "${1#sp-}" | od -An -tx1 | tr -d ' \n' | sed 's/^/73706f6b/; s/$/0000000000000000/' |
		cut -c1-32 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/'
}
cat >"$J/iso.py" <<'PY'
import os, sys, time
from pyspark.sql import SparkSession
mark, n, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spark = SparkSession.builder.getOrCreate()
spark.conf.set("spok.test.mark", mark)
spark.range(n).createOrReplaceTempView("t")
open(os.path.join(d, "ready-" + mark), "w").close()
for _ in range(900):  # until both runs have set theirs (bounded)
    if len([f for f in os.listdir(d) if f.startswith("ready-")]) >= 2:
        break
    time.sleep(0.2)
print("mark", spark.conf.get("spok.test.mark"))
print("rows", spark.sql("select count(*) from t").collect()[0][0])
print("session", spark.session_id)
PY
# sum(id % 7): Spark 4 is ANSI, and sum(id) over this range overflows within seconds
cat >"$J/long.py" <<'PY'
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
print("long: starting", flush=True)
print(spark.range(0, 10**13, numPartitions=2).selectExpr("sum(id % 7)").collect())
PY
cat >"$J/waiter.py" <<'PY'
import os, sys, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
print("waiter: session", spark.session_id, flush=True)
for _ in range(3000):  # small queries until the test says so (bounded)
    if os.path.exists(sys.argv[1]):
        break
    spark.range(100).count()
    time.sleep(0.1)
print("waiter: done", spark.range(5).count())
PY
cat >"$J/hidden.py" <<'PY'
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
sc = getattr(spark, "spark" + "Con" + "text")  # out of the up-front check's sight
print("sum", getattr(sc, "para" + "llelize")(range(10), 2).sum())
PY
job iso-a iso.py a 5 "$T/sync"
job iso-b iso.py b 7 "$T/sync"
job long long.py
job waiter waiter.py "$T/sync/go"
job hidden hidden.py

say "the DataFrame Pi on a warm session the run starts"
# a client setting exported by the user must not turn the server it starts into a client, nor
# replace the session's token
expect_rc 0 env SPARK_REMOTE=sc://127.0.0.1:9 SPARK_CONNECT_MODE_ENABLED=1 SPARK_CONNECT_AUTHENTICATE_TOKEN=not-it "$SPOK" run "$SRC/examples/warm/pi.yaml" --warm -q
grep -Eq "^Pi is roughly 3\.1[2-6]" "$T/out" || { fail "no Pi"; cat "$T/out" >&2; }
has "$T/err" "running pi-df warm on session default"
has "$T/err" "session default started in pool default .*clients need its URL's token"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
[ "$(xget "$ID" session)" = default ] || fail "$ID: session $(xget "$ID" session)"
[ "$(xget "$ID" fallback)" = null ] || fail "$ID: fallback $(xget "$ID" fallback)"
[ "$(xget "$ID" ui_url)" = "$(sget default ui_url)" ] || fail "$ID: ui_url is not the pool's UI"
[ "$(sget default phase)" = RUNNING ] || fail "the session is not RUNNING after the run"
UI=$(sget default ui_url)
# the run's own page on the server's UI: the Connect tab's session page, listing its jobs
"$SPOK" status "$ID" >"$T/st"
LINK=$(sed -n "s|^  Spark UI: this run's Connect session: ||p" "$T/st")
[ "$LINK" = "$UI/connect/session/?id=$(sid_of "$ID")" ] || fail "$ID: session link '$LINK'"
curl -sf "$LINK" >"$T/page" || fail "$LINK does not answer"
has "$T/page" "$(sid_of "$ID")"
has "$T/page" "jobs/job/?id="
APP=$(curl -sf "$UI/api/v1/applications" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
# jobs of a Connect session carry its id in their tags: running ones whose tag names SID
running_of() {
	curl -sf "$UI/api/v1/applications/$APP/jobs?status=running" | "$PY" -c '
import json, sys
print(sum(1 for j in json.load(sys.stdin) if any("_Session_" + sys.argv[1] + "_" in t for t in j.get("jobTags", []))))' "$1"
}

say "two concurrent warm runs are separate sessions"
"$SPOK" run "$J/iso-a.yaml" --warm -q >"$T/a.out" 2>"$T/a.err" &
PA=$!
"$SPOK" run "$J/iso-b.yaml" --warm -q >"$T/b.out" 2>"$T/b.err" &
PB=$!
wait $PA || fail "iso-a failed: $(tail -3 "$T/a.err")"
wait $PB || fail "iso-b failed: $(tail -3 "$T/b.err")"
has "$T/a.out" "^mark a$"
has "$T/a.out" "^rows 5$"
has "$T/b.out" "^mark b$"
has "$T/b.out" "^rows 7$"
SA=$(sed -n 's/^session //p' "$T/a.out")
SB=$(sed -n 's/^session //p' "$T/b.out")
[ -n "$SA" ] && [ "$SA" != "$SB" ] || fail "session ids '$SA' and '$SB'"

say "abort interrupts only its own session's operations"
rm -f "$T/sync/go"
# A in the foreground (its own messages on stderr), B detached
"$SPOK" run "$J/long.yaml" --warm >"$T/long.out" 2>"$T/long.err" &
PLONG=$!
aid_of_long() { AID=$(sed -n 's/^spok: execution \([^ :]*\): running .*/\1/p' "$T/long.err"); [ -n "$AID" ]; }
wait_for 60 aid_of_long || fail "the foreground warm run printed no execution id: $(cat "$T/long.err")"
BID=$("$SPOK" run "$J/waiter.yaml" --warm -d)
SIDA=$(sid_of "$AID")
wait_for 120 sh -c "[ \"\$(curl -sf '$UI/api/v1/applications/$APP/jobs?status=running' | grep -c '_Session_${SIDA}_')\" -ge 1 ]" ||
	fail "$AID's job never ran on the server"
wait_for 60 grep -q "waiter: session" "$T/data/runs/$BID/attempt-0.log" || fail "$BID never started"
expect_rc 0 "$SPOK" abort "$AID"
wait "$PLONG"
# a warm attempt runs a Connect client, not spark-submit
grep -q "stopping spark-submit" "$T/long.err" && fail "the warm run says it stops spark-submit"
[ "$(xget "$AID" phase)" = ABORTED ] || fail "$AID: $(xget "$AID" phase)"
has "$T/data/runs/$AID/attempt-0.log" "interrupted 1 operation(s)"
[ "$(running_of "$SIDA")" = 0 ] || fail "$AID's operation still runs on the server"
[ "$(xget "$BID" phase)" = RUNNING ] || fail "$BID: $(xget "$BID" phase) after the other run's abort"
touch "$T/sync/go"
wait_for 120 sh -c "[ \"\$('$SPOK' list | awk '\$1==\"$BID\" {print \$3}')\" = SUCCEEDED ]" ||
	fail "$BID: $(xget "$BID" phase), want SUCCEEDED"
has "$T/data/runs/$BID/attempt-0.log" "waiter: done 5"

say "an RDD job falls back on Connect's 'not supported' error"
expect_rc 0 "$SPOK" run "$J/hidden.yaml" --warm -q
has "$T/out" "^sum 45$"
has "$T/err" "falling back"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
R=$(xget "$ID" fallback)
[[ "$R" == *'[JVM_ATTRIBUTE_NOT_SUPPORTED] Attribute `sparkContext` is not supported in Spark Connect'* ]] ||
	fail "$ID: fallback '$R'"
[ "$(xget "$ID" session)" = null ] || fail "$ID: a fallen-back run names a session"
[ "$(xget "$ID" attempt)" = 1 ] || fail "$ID: attempt $(xget "$ID" attempt), want 1 (0: warm, 1: local)"
has "$T/data/runs/$ID/attempt-0.log" "running it as a normal local run"
"$SPOK" status "$ID" >"$T/st"
has "$T/st" "Spark Connect does not support"

say "an RDD job the up-front check sees runs normally from the start"
expect_rc 0 "$SPOK" run "$SRC/examples/pi/pi.yaml" --warm -q
has "$T/err" "not warm: pi.py:25 uses sparkContext"
grep -Eq "^Pi is roughly 3\.1[2-6]" "$T/out" || fail "no Pi from the fallen-back run"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
R=$(xget "$ID" fallback)
[[ "$R" == *"pi.py:25 uses sparkContext"* ]] || fail "$ID: fallback '$R'"
[ "$(xget "$ID" attempt)" = 0 ] || fail "$ID: more than one attempt"

say "spok.warm-rules: a job a rule matches runs warm without --warm; --cold runs it normally"
cat >"$J/ruled.py" <<'PY'
from pyspark.sql import SparkSession
print("ruled rows", SparkSession.builder.getOrCreate().range(6).count())
PY
printf 'name: ruled\ntype: PYTHON\nmainApplicationFile: ruled.py\nlabels: {size: small}\n' >"$J/ruled.yaml"
expect_rc 0 "$SPOK" run "$J/ruled.yaml" -q
has "$T/out" "^ruled rows 6$"
has "$T/err" "warm by spok.warm-rules\[0\] (pool default)"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
[ "$(xget "$ID" session)" = default ] || fail "$ID: session $(xget "$ID" session), want default (by the rule)"
expect_rc 0 "$SPOK" run "$J/ruled.yaml" -q --cold
has "$T/out" "^ruled rows 6$"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
[ "$(xget "$ID" session)" = null ] || fail "$ID: --cold ran on session $(xget "$ID" session)"
printf 'name: ruled\ntype: PYTHON\nmainApplicationFile: ruled.py\n' >"$J/unlabelled.yaml"
expect_rc 0 "$SPOK" run "$J/unlabelled.yaml" -q
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
[ "$(xget "$ID" session)" = null ] || fail "$ID: a job without the rule's label ran warm"

say "pyFiles and files go to the run's own session: a UDF from the job's module"
# the same module name in two job directories, with different content: each run sees its own
for m in a b; do
	mkdir -p "$J/$m"
	printf 'red green blue\n' >"$J/$m/words.txt"
	cat >"$J/$m/udfmod.py" <<PY
MARK = "$m"
def tag(x):
    from pyspark import SparkFiles
    with open(SparkFiles.get("words.txt")) as f:
        words = f.read().split()
    return "%s-%s-%d" % (MARK, words[x % len(words)], x)
PY
	cat >"$J/$m/udf.py" <<'PY'
from pyspark.sql import SparkSession, functions as F
import udfmod  # on the client's path as under spark-submit --py-files
spark = SparkSession.builder.getOrCreate()
tag = F.udf(udfmod.tag)  # pickled by reference: the server's workers import udfmod
print("tags", ",".join(r[0] for r in spark.range(4).select(tag("id")).orderBy("id").collect()))
PY
	printf 'name: udf-%s\ntype: PYTHON\nmainApplicationFile: udf.py\npyFiles: [udfmod.py]\nfiles: [words.txt]\n' "$m" >"$J/$m/udf.yaml"
done
expect_rc 0 "$SPOK" run "$J/a/udf.yaml" --warm -q
has "$T/out" "^tags a-red-0,a-green-1,a-blue-2,a-red-3$"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
[ "$(xget "$ID" session)" = default ] || fail "$ID: session $(xget "$ID" session)"
[ "$(xget "$ID" fallback)" = null ] || fail "$ID: fallback $(xget "$ID" fallback)"
has "$T/data/runs/$ID/attempt-0.log" "uploaded 2 file(s) to the Spark Connect session"
expect_rc 0 "$SPOK" run "$J/b/udf.yaml" --warm -q
has "$T/out" "^tags b-red-0,b-green-1,b-blue-2,b-red-3$"

say "a session that uploaded nothing does not see another session's files"
cat >"$J/probe.py" <<'PY'
from pyspark.sql import SparkSession, functions as F
spark = SparkSession.builder.getOrCreate()
def probe(x):
    import udfmod
    return udfmod.MARK
print("probe", spark.range(1).select(F.udf(probe)("id")).collect()[0][0])
PY
job probe probe.py
"$SPOK" run "$J/probe.yaml" --warm -q >"$T/out" 2>"$T/err" && fail "probe saw another session's udfmod: $(cat "$T/out")"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
has "$T/data/runs/$ID/attempt-0.log" "No module named 'udfmod'"
[ "$(xget "$ID" fallback)" = null ] || fail "$ID: fallback $(xget "$ID" fallback)"

say "files outside the job's directory are refused with one line naming the field"
printf 'x = 1\n' >"$T/outside.py"
printf 'name: out\ntype: PYTHON\nmainApplicationFile: a/udf.py\npyFiles: [../outside.py]\n' >"$J/out.yaml"
expect_rc 2 "$SPOK" run "$J/out.yaml" --warm -q
has "$T/err" "out.yaml: pyFiles\[0\] .*outside.py: outside the job's directory"
[ "$(wc -l <"$T/err")" = 1 ] || fail "not one line: $(cat "$T/err")"
ln -s /etc/hostname "$J/a/host.txt"
printf 'name: out\ntype: PYTHON\nmainApplicationFile: udf.py\nfiles: [host.txt]\n' >"$J/a/link.yaml"
expect_rc 2 "$SPOK" run "$J/a/link.yaml" --warm -q
has "$T/err" "link.yaml: files\[0\] .*host.txt: outside the job's directory"

say "the task's own sparkConf spok.cold wins over a matching rule (and never reaches Spark)"
printf 'name: ruled\ntype: PYTHON\nmainApplicationFile: ruled.py\nlabels: {size: small}\nsparkConf: {spok.cold: "true"}\n' >"$J/ruled-cold.yaml"
expect_rc 0 "$SPOK" run "$J/ruled-cold.yaml" -q
has "$T/out" "^ruled rows 6$"
has "$T/err" "cold by the task's sparkConf spok.cold"
ID=$("$SPOK" list | awk 'NR==2 {print $1}')
[ "$(xget "$ID" session)" = null ] || fail "$ID: spok.cold ran on session $(xget "$ID" session)"
grep -q "spok.cold" "$T/data/runs/$ID/attempt-0.log" && fail "$ID: spok.cold reached spark-submit"

[ "$FAILED" = 0 ] && echo "connect warm: all passed"
exit "$FAILED"
