"""Regenerates the hand-made fuzz seeds (run with the venv python from this directory,
after the ctest fixture ran): python make_seeds.py <fixture dir>."""
import io
import sys
import tarfile

from flyteidl.admin import task_pb2
from flyteidl.core import tasks_pb2
from google.protobuf import struct_pb2


def main(fixture):
    with tarfile.open(f"{fixture}/flyte-package.tgz") as tf:
        spec_bytes = tf.extractfile("0_pi.hello_spark_1.pb").read()
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as out:
            for m in tf.getmembers():
                out.addfile(m, tf.extractfile(m))
    open("fuzz_task_spec/hello_spark_1.pb", "wb").write(spec_bytes)
    open("fuzz_flyte_package/flyte-package.tgz", "wb").write(
        open(f"{fixture}/flyte-package.tgz", "rb").read())
    open("fuzz_flyte_package/flyte-package.tar", "wb").write(raw.getvalue())
    spec = task_pb2.TaskSpec.FromString(spec_bytes)
    tmpl = spec.template
    open("fuzz_task_template/hello_spark.pb", "wb").write(tmpl.SerializeToString())

    # k8s_pod target with a primary container, JVM job with pod templates.
    t2 = tasks_pb2.TaskTemplate()
    t2.CopyFrom(tmpl)
    pod_spec = struct_pb2.Struct()
    pod_spec.update({"containers": [{"name": "primary", "image": "img", "args": ["a"],
                                     "env": [{"name": "A", "value": "1"}]}]})
    t2.k8s_pod.pod_spec.CopyFrom(pod_spec)
    t2.k8s_pod.metadata.labels["l"] = "v"
    t2.config["primary_container_name"] = "primary"
    t2.metadata.timeout.seconds = 90
    t2.metadata.retries.retries = 2
    t2.metadata.interruptible = True
    t2.security_context.run_as.k8s_service_account = "spark"
    t2.custom.Clear()
    t2.custom.update({"applicationType": "SCALA", "mainClass": "org.example.Pi",
                      "mainApplicationFile": "local:///x.jar", "hadoopConf": {"a": "b"},
                      "driverPod": {"metadata": {"labels": {"x": "y"}},
                                    "podSpec": {"containers": [{"name": "primary"}]},
                                    "primaryContainerName": "primary"},
                      "executorPod": {"podSpec": {"nodeSelector": {"a": "b"}}}})
    open("fuzz_task_template/k8s_pod_scala.pb", "wb").write(t2.SerializeToString())
    s2 = task_pb2.TaskSpec()
    s2.template.CopyFrom(t2)
    open("fuzz_task_spec/k8s_pod_scala_1.pb", "wb").write(s2.SerializeToString())

    for name in ("outputs.pb", "outputs_rich.pb", "error.pb"):
        open(f"fuzz_literal_map/{name}", "wb").write(open(f"{fixture}/{name}", "rb").read())


if __name__ == "__main__":
    main(sys.argv[1])
