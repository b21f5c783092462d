# tests/node/failures.sh, case 4 (see driver-loss.yaml). spok names attempt N's
# SparkApplication <execution>-n0-N and uses that name as the executor pod name prefix, so
# the prefix's last part is the attempt. Attempt 0 waits to be deleted (at most 10 minutes);
# any later attempt sums a small range and ends.
import sys
import time

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("driver-loss").getOrCreate()
prefix = spark.sparkContext.getConf().get("spark.kubernetes.executor.podNamePrefix", "")
attempt = prefix.rsplit("-", 1)[-1]
if attempt == "0":
    print("attempt 0: waiting for the test to delete this driver pod", flush=True)
    time.sleep(600)
    sys.exit(1)
total = spark.sparkContext.parallelize(range(1000), 2).sum()
print(f"attempt {attempt}: sum {total}", flush=True)
spark.stop()
