"""The job of tests/node/data/deps: imports a module shipped with pyFiles on the driver and
in every task, and reads a file shipped with files. A shipped file is at /opt/spok/files/<name>
on the driver and every executor (Spark leaves local:// files where they are, so
SparkFiles.get does not find them); in a local run it is where SparkFiles.get says."""
import os
import sys

from pyspark import SparkFiles
from pyspark.sql import SparkSession

import helper


def shipped(name):
    path = os.path.join("/opt/spok/files", name)
    return path if os.path.exists(path) else SparkFiles.get(name)


def task(i):
    import helper as h  # imported again in the executor's Python worker
    with open(shipped("words.txt")) as f:
        return h.score(f.read().split()) + i * 0


spark = SparkSession.builder.appName("deps").getOrCreate()
slices = int(sys.argv[1]) if len(sys.argv) > 1 else 2
with open(shipped("words.txt")) as f:
    on_driver = helper.score(f.read().split())
on_executors = spark.sparkContext.parallelize(range(slices), slices).map(task).collect()
print("deps ok: %s driver=%d executors=%s" % (helper.NAME, on_driver, on_executors))
spark.stop()
