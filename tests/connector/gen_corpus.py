#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_create_task from a `pyflyte package` archive with
flyteidl's own Python classes: gen_corpus.py PACKAGE.tgz OUT_DIR."""
import os
import sys
import tarfile

from flyteidl.admin import agent_pb2, task_pb2
from flyteidl.core import identifier_pb2


def template_of(package):
    with tarfile.open(package) as tf:
        for m in tf.getmembers():
            if m.name.endswith("hello_spark_1.pb"):
                spec = task_pb2.TaskSpec()
                spec.ParseFromString(tf.extractfile(m).read())
                return spec.template
    raise SystemExit("no hello_spark task in " + package)


def request(t, name="fexec", node="n0", attempt=0, **md):
    te = identifier_pb2.TaskExecutionIdentifier(
        task_id=t.id, retry_attempt=attempt,
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id=node, execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project="flytesnacks", domain="development", name=name)))
    return agent_pb2.CreateTaskRequest(
        template=t, output_prefix="s3://b/o",
        task_execution_metadata=agent_pb2.TaskExecutionMetadata(task_execution_id=te, **md))


def main():
    t, out = template_of(sys.argv[1]), sys.argv[2]
    seeds = {
        "full": request(t, namespace="flytesnacks-development", labels={"a": "b"},
                        annotations={"c": "d"}, k8s_service_account="sa",
                        environment_variables={"E": "1"}),
        "long_names": request(t, name="a" * 63, node="dn0-0-" + "n" * 200, attempt=7),
        "bad_name": request(t, name="a/b"),
        "no_metadata": agent_pb2.CreateTaskRequest(template=t),
        "empty": agent_pb2.CreateTaskRequest(),
    }
    for k, v in seeds.items():
        with open(os.path.join(out, k + ".pb"), "wb") as f:
            f.write(v.SerializeToString())


if __name__ == "__main__":
    main()
