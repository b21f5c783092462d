# tests/node/failures.sh, case 3 (see lose-executor.yaml). Runs rounds of 8 short tasks and
# ends once a task ran on an executor other than the first two (Spark started it to replace
# one the test deleted), so the test never races the job's end. Gives up after 10 minutes.
import os
import sys
import time

from pyspark.sql import SparkSession


def executor(_):
    time.sleep(0.5)
    return os.environ.get("SPARK_EXECUTOR_ID", "?")


spark = SparkSession.builder.appName("lose-executor").getOrCreate()
sc = spark.sparkContext
seen = set()
deadline = time.time() + 600
while time.time() < deadline:
    ran = set(sc.parallelize(range(8), 8).map(executor).collect())
    seen |= ran
    print("executors that ran tasks: " + ",".join(sorted(seen)), flush=True)
    if ran - {"1", "2"}:
        print("a replacement executor ran tasks: the job survived losing one", flush=True)
        spark.stop()
        sys.exit(0)
spark.stop()
sys.exit(1)
