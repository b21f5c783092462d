# stages.py RELEASE TOTALS ok|fail - the job of tests/progress/progress.sh: three jobs of
# five stages, a job description with terminal escapes in "ok" mode, one task
# attempt that fails (and is retried: run with --master "local[2,2]") in "fail" mode. Then it
# writes the task totals from the application's own status REST API to TOTALS and waits
# (bounded) for the test's RELEASE file, so a watcher reads the final numbers before the
# application ends.
import json, os, sys, time, urllib.request
from pyspark import TaskContext
from pyspark.sql import SparkSession

release, totals_file, fail_once = sys.argv[1], sys.argv[2], sys.argv[3] == "fail"
spark = SparkSession.builder.appName("stages").getOrCreate()
sc = spark.sparkContext
sc.setJobDescription("plain totals" if fail_once else "count \x1b[31mred\x1b[0m")
rdd = sc.parallelize(range(20000), 4)
rdd.map(lambda x: (x % 10, x)).reduceByKey(lambda a, b: a + b, 3).collect()
sc.setJobDescription(None)

def maybe_fail(x):
    if fail_once and TaskContext.get().partitionId() == 0 and TaskContext.get().attemptNumber() == 0:
        raise RuntimeError("planned failure of one task attempt")
    return x

rdd.map(maybe_fail).map(lambda x: (x % 7, 1)).reduceByKey(lambda a, b: a + b, 2).count()
rdd.filter(lambda x: x % 3 == 0).count()

base = sc.uiWebUrl + "/api/v1/applications/" + sc.applicationId
jobs = json.load(urllib.request.urlopen(base + "/jobs"))
done = sum(min(j.get("numCompletedIndices", j["numCompletedTasks"]) + j["numSkippedTasks"], j["numTasks"]) for j in jobs)
total = sum(j["numTasks"] for j in jobs)
failed = sum(j["numFailedTasks"] for j in jobs)
with open(totals_file + ".tmp", "w") as f:
    json.dump({"tasks_done": done, "tasks_total": total, "tasks_failed": failed, "jobs": len(jobs)}, f)
os.rename(totals_file + ".tmp", totals_file)
deadline = time.time() + 300
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.2)
spark.stop()
