"""Counts N generated rows with the DataFrame API (default 10^6): a short job whose time is
mostly start-up, for `spok run --warm` and bench/warm.

Usage: count.py [ROWS].
"""
import sys

from pyspark.sql import SparkSession


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    spark = SparkSession.builder.appName("Count").getOrCreate()
    print(f"count: {spark.range(rows).count()}")


if __name__ == "__main__":
    main()
