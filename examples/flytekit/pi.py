"""Monte-Carlo estimate of pi as a flytekit Spark task (the flytesnacks pyspark_pi example).

Each partition throws SAMPLES_PER_PARTITION darts at the unit square; the share that lands
inside the quarter circle, times 4, approximates pi (about 3.14 +- 0.01 for 2 partitions).
"""
import random
from operator import add

import flytekit
from flytekit import task, workflow
from flytekitplugins.spark import Spark

SAMPLES_PER_PARTITION = 100000


def _inside(_: int) -> int:
    x = random.random() * 2 - 1
    y = random.random() * 2 - 1
    return 1 if x * x + y * y <= 1 else 0


@task(
    task_config=Spark(
        spark_conf={
            "spark.driver.memory": "1000M",
            "spark.executor.memory": "1000M",
            "spark.executor.cores": "1",
            "spark.executor.instances": "2",
            "spark.driver.cores": "1",
        }
    ),
)
def hello_spark(partitions: int) -> float:
    n = SAMPLES_PER_PARTITION * partitions
    sc = flytekit.current_context().spark_session.sparkContext
    count = sc.parallelize(range(1, n + 1), partitions).map(_inside).reduce(add)
    return 4.0 * count / n


@workflow
def my_spark(partitions: int = 2) -> float:
    return hello_spark(partitions=partitions)


if __name__ == "__main__":
    print(f"pi is roughly {my_spark(partitions=2)}")
