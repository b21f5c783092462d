"""Monte-Carlo estimate of pi with PySpark (the classic Spark Pi example).

Usage: pi.py [PARTITIONS [SAMPLES_PER_PARTITION]]. Every partition throws darts at the
square [-1, 1]^2; the share landing inside the unit circle, times 4, approximates pi.
The default 2 x 500000 samples give pi within about 0.005.
"""
import random
import sys
from operator import add

from pyspark.sql import SparkSession


def inside(_: int) -> int:
    x = random.random() * 2 - 1
    y = random.random() * 2 - 1
    return 1 if x * x + y * y <= 1 else 0


def main() -> None:
    partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    per_partition = int(sys.argv[2]) if len(sys.argv) > 2 else 500000
    n = partitions * per_partition
    spark = SparkSession.builder.appName("PythonPi").getOrCreate()
    count = spark.sparkContext.parallelize(range(n), partitions).map(inside).reduce(add)
    print(f"Pi is roughly {4.0 * count / n:.5f}")
    spark.stop()


if __name__ == "__main__":
    main()
