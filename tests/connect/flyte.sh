#!/usr/bin/env bash
# flyte.sh SPOK_BINARY - flytekit Spark tasks (real flytekit, `pyflyte package`) by `spok run
# --warm` on a real Spark Connect server: the DataFrame-only examples/flytekit/pi_df.py gives
# the same output warm as cold (typed inputs in, outputs.pb out, the session recorded); a task
# whose RDD use the up-front check cannot see fails on Connect's "not supported" error inside
# flytekit (error.pb) and falls back to a normal local run with the right output;
# examples/flytekit/pi.py (sparkContext.parallelize) runs normally from the start, saying why;
# examples/flytekit/udf_parity.py (a Python UDF defined in the task's module, spok.warm in its
# spark_conf) runs warm by its own task config, its module uploaded to its session, and gives
# the same output cold; a Spark DataFrame output (declared, or in a StructuredDataset) is
# written as parquet warm.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip_unless_ready

cat >"$T/config.yaml" <<'YAML'
spok:
  pools:
    - name: default
      master: local[2]
      idle-timeout: 10m
YAML
export SPOK_CONFIG=$T/config.yaml
FK=$T/fk
cp -r "$SRC/examples/flytekit" "$FK"
cat >"$FK/hidden_fk.py" <<'PY'
import flytekit
from flytekit import task
from flytekitplugins.spark import Spark


@task(task_config=Spark())
def hidden(n: int) -> int:
    spark = flytekit.current_context().spark_session
    sc = getattr(spark, "spark" + "Con" + "text")  # out of the up-front check's sight
    return getattr(sc, "para" + "llelize")(range(n), 2).sum()
PY
cat >"$FK/df_fk.py" <<'PY'
import flytekit
import pyspark.sql
from flytekit import task
from flytekit.types.structured import StructuredDataset
from flytekitplugins.spark import Spark


@task(task_config=Spark())
def squares(n: int) -> pyspark.sql.DataFrame:
    spark = flytekit.current_context().spark_session
    return spark.range(n).selectExpr("id", "id * id AS sq")


@task(task_config=Spark())
def squares_sd(n: int) -> StructuredDataset:
    spark = flytekit.current_context().spark_session
    return StructuredDataset(dataframe=spark.range(n).selectExpr("id", "id * id AS sq"))
PY
for m in pi_df pi hidden_fk udf_parity df_fk; do
	(cd "$FK" && PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/pyflyte" --pkgs "$m" package --image spok-spark:local \
		-f -o "$m.tgz") >"$T/pkg" 2>&1 || { fail "pyflyte package $m"; cat "$T/pkg" >&2; exit 1; }
done
newest() { "$SPOK" list | awk 'NR==2 {print $1}'; }

say "a DataFrame-only flytekit task: the same output warm as cold"
IN=(--input partitions=2 --input samples=200000)
expect_rc 0 "$SPOK" run "$FK/pi_df.tgz" --task pi_df "${IN[@]}" --python-path "$FK" -q
COLD=$(tail -n 1 "$T/out")
expect_rc 0 "$SPOK" run "$FK/pi_df.tgz" --task pi_df "${IN[@]}" --python-path "$FK" --warm -q
WARM=$(tail -n 1 "$T/out")
has "$T/err" "running pi_df.pi_df warm on session default"
[[ "$COLD" =~ ^\{\"o0\":3\.1[2-6][0-9]*\}$ ]] || fail "cold output '$COLD'"
[ "$WARM" = "$COLD" ] || fail "warm output '$WARM', cold '$COLD'"
ID=$(newest)
[ "$(xget "$ID" session)" = default ] || fail "$ID: session $(xget "$ID" session)"
[ "$(xget "$ID" fallback)" = null ] || fail "$ID: fallback $(xget "$ID" fallback)"
[ "$(xget "$ID" attempt)" = 0 ] || fail "$ID: attempt $(xget "$ID" attempt)"
[ -s "$T/data/runs/$ID/outputs/0/outputs.pb" ] || fail "$ID: no outputs.pb"
# other inputs give another output: the inputs reached the warm task
expect_rc 0 "$SPOK" run "$FK/pi_df.tgz" --task pi_df --input partitions=3 --input samples=1000 \
	--python-path "$FK" --warm -q
[ "$(tail -n 1 "$T/out")" != "$WARM" ] || fail "the same output for other inputs"
[ "$(xget "$(newest)" session)" = default ] || fail "the second warm run is not warm"

say "an RDD call hidden from the up-front check falls back inside flytekit"
expect_rc 0 "$SPOK" run "$FK/hidden_fk.tgz" --task hidden --input n=10 --python-path "$FK" --warm -q
has "$T/out" '^{"o0":45}$'
has "$T/err" "falling back"
ID=$(newest)
R=$(xget "$ID" fallback)
[[ "$R" == *'[JVM_ATTRIBUTE_NOT_SUPPORTED] Attribute `sparkContext` is not supported in Spark Connect'* ]] ||
	fail "$ID: fallback '$R'"
[ "$(xget "$ID" attempt)" = 1 ] || fail "$ID: attempt $(xget "$ID" attempt), want 1 (0: warm, 1: local)"
[ "$(xget "$ID" session)" = null ] || fail "$ID: a fallen-back run names a session"
[ "$(xget "$ID" error_message)" = null ] || fail "$ID: the warm attempt's error kept"

say "examples/flytekit/pi.py (sparkContext) runs normally from the start"
expect_rc 0 "$SPOK" run "$FK/pi.tgz" --task hello_spark --input partitions=2 --python-path "$FK" --warm -q
has "$T/err" "not warm: pi.py:[0-9]* uses sparkContext"
pi=$(sed -n 's/.*"o0":\([0-9.]*\).*/\1/p' "$T/out")
awk -v p="$pi" 'BEGIN { exit !(p >= 3.05 && p <= 3.20) }' || fail "flytekit pi '$pi'"
[ "$(xget "$(newest)" attempt)" = 0 ] || fail "more than one attempt"

say "a UDF from the task's module: warm by the task's own spok.warm, the same output cold"
expect_rc 0 "$SPOK" run "$FK/udf_parity.tgz" --task count_parity --input n=11 --python-path "$FK" -q
WARM=$(tail -n 1 "$T/out")
has "$T/err" "warm by the task's sparkConf spok.warm (pool default)"
[ "$WARM" = '{"o0":"even=6,odd=5"}' ] || fail "warm output '$WARM'"
ID=$(newest)
[ "$(xget "$ID" session)" = default ] || fail "$ID: session $(xget "$ID" session)"
[ "$(xget "$ID" fallback)" = null ] || fail "$ID: fallback $(xget "$ID" fallback)"
has "$T/data/runs/$ID/attempt-0.log" "uploaded 1 file(s) to the Spark Connect session"
expect_rc 0 "$SPOK" run "$FK/udf_parity.tgz" --task count_parity --input n=11 --python-path "$FK" -q --cold
[ "$(tail -n 1 "$T/out")" = "$WARM" ] || fail "cold output '$(tail -n 1 "$T/out")', warm '$WARM'"
ID=$(newest)
[ "$(xget "$ID" session)" = null ] || fail "$ID: --cold ran on session $(xget "$ID" session)"
grep -q "spok.warm" "$T/data/runs/$ID/attempt-0.log" && fail "$ID: spok.warm reached spark-submit"

say "a Spark DataFrame as a task output, warm: parquet written by the server, as cold"
for t in squares squares_sd; do
	expect_rc 0 "$SPOK" run "$FK/df_fk.tgz" --task "$t" --input n=4 --python-path "$FK" --warm -q
	ID=$(newest)
	[ "$(xget "$ID" session)" = default ] || fail "$ID: session $(xget "$ID" session)"
	URI=$(tail -n 1 "$T/out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["o0"]["uri"])')
	"$PY" -c 'import pyarrow.parquet as pq, sys; print(sorted(zip(*pq.read_table(sys.argv[1]).to_pydict().values())))' \
		"$URI" >"$T/rows" 2>&1 || fail "$t: $URI: $(cat "$T/rows")"
	has "$T/rows" "^\[(0, 0), (1, 1), (2, 4), (3, 9)\]$"
done

[ "$FAILED" = 0 ] && echo "connect flyte: all passed"
exit "$FAILED"
