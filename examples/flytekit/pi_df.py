"""Monte-Carlo estimate of pi as a flytekit Spark task that uses the DataFrame API only, so it
runs the same under spark-submit and as a Spark Connect client (`spok run ... --warm`).

Every row is a dart thrown at the square [-1, 1]^2 (Spark's rand with fixed seeds, so a given
number of partitions and samples always gives the same estimate); the share inside the unit
circle, times 4, approximates pi (within about 0.005 for 2 x 500000 samples).
"""
import flytekit
from flytekit import task, workflow
from flytekitplugins.spark import Spark
from pyspark.sql import functions as F


@task(task_config=Spark(spark_conf={"spark.driver.memory": "1g"}))
def pi_df(partitions: int, samples: int) -> float:
    spark = flytekit.current_context().spark_session
    n = partitions * samples
    darts = spark.range(0, n, numPartitions=partitions).select(
        (F.rand(seed=7) * 2 - 1).alias("x"), (F.rand(seed=11) * 2 - 1).alias("y"))
    inside = darts.where(F.col("x") * F.col("x") + F.col("y") * F.col("y") <= 1).count()
    return 4.0 * inside / n


@workflow
def pi_df_wf(partitions: int = 2, samples: int = 500000) -> float:
    return pi_df(partitions=partitions, samples=samples)
