"""A flytekit Spark task with a Python UDF defined in its own module, that asks to run warm
from its task config (`spok.warm` in spark_conf: the pool whose Spark Connect session runs it;
docs/CLI.md, "Warm runs").

The UDF is pickled by reference to this module, so the server's Python workers must import
it: a warm run uploads the module to the task's Connect session (addArtifacts) before the
task runs. `spok run ... --cold` runs it as a normal local run, with the same output.
"""
import flytekit
from flytekit import task, workflow
from flytekitplugins.spark import Spark
from pyspark.sql import functions as F


def parity(n: int) -> str:
    return "even" if n % 2 == 0 else "odd"


@task(task_config=Spark(spark_conf={"spok.warm": "default"}))
def count_parity(n: int) -> str:
    spark = flytekit.current_context().spark_session
    label = F.udf(parity)
    rows = spark.range(n).groupBy(label("id").alias("p")).count().orderBy("p").collect()
    return ",".join(f"{r['p']}={r['count']}" for r in rows)


@workflow
def count_parity_wf(n: int = 11) -> str:
    return count_parity(n=n)
