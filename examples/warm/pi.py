"""Monte-Carlo estimate of pi with the DataFrame API only, so it runs under spark-submit and
as a Spark Connect client alike (`spok run pi.yaml --warm`).

Usage: pi.py [PARTITIONS [SAMPLES_PER_PARTITION]]. Every row is a dart thrown at the square
[-1, 1]^2 (Spark's rand with fixed seeds); the share inside the unit circle, times 4,
approximates pi. The default 2 x 500000 samples give pi within about 0.005.
"""
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main() -> None:
    partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    per_partition = int(sys.argv[2]) if len(sys.argv) > 2 else 500000
    n = partitions * per_partition
    spark = SparkSession.builder.appName("DataFramePi").getOrCreate()
    darts = spark.range(0, n, numPartitions=partitions).select(
        (F.rand(seed=7) * 2 - 1).alias("x"), (F.rand(seed=11) * 2 - 1).alias("y"))
    inside = darts.where(F.col("x") * F.col("x") + F.col("y") * F.col("y") <= 1).count()
    print(f"Pi is roughly {4.0 * inside / n:.5f}")


if __name__ == "__main__":
    main()
