# once.py MARKER - a warm job whose first attempt runs until its server goes away and whose
# retry is short: the first run creates MARKER and starts a long query, a run that finds MARKER
# counts 11 rows (tests/connect/faults.sh, tests/node/connect.sh).
import os, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
if not os.path.exists(sys.argv[1]):
    open(sys.argv[1], "w").close()
    print("once: long query", flush=True)
    # sum(id % 7), not sum(id): Spark 4 is ANSI, and sum(id) over 10^13 rows overflows
    spark.range(0, 10**13, numPartitions=2).selectExpr("sum(id % 7)").collect()
print("once: rows", spark.range(11).count())
