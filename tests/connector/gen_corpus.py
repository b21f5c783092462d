#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_create_task from a `pyflyte package` archive with
flyteidl's own Python classes: gen_corpus.py PACKAGE.tgz OUT_DIR [LOGS_OUT_DIR]. With
LOGS_OUT_DIR, also the seeds of fuzz_task_logs: GetTaskLogsRequests and driver-log texts."""
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


def logs_seeds(out):
    cat = agent_pb2.TaskCategory(name="spark")
    reqs = {
        "req_full": agent_pb2.GetTaskLogsRequest(resource_meta=b"sp-0a1b2c3d4e", lines=100,
                                                 task_category=cat),
        "req_default": agent_pb2.GetTaskLogsRequest(resource_meta=b"sp-0a1b2c3d4e"),
        "req_token": agent_pb2.GetTaskLogsRequest(resource_meta=b"sp-x", token="page-2"),
        "req_bad_meta": agent_pb2.GetTaskLogsRequest(resource_meta=b"../etc/passwd"),
        "req_huge_lines": agent_pb2.GetTaskLogsRequest(resource_meta=b"sp-x", lines=2**63),
    }
    for k, v in reqs.items():
        with open(os.path.join(out, k + ".pb"), "wb") as f:
            f.write(v.SerializeToString())
    logs = {
        "log_mixed.txt": b"26/01/01 INFO SparkContext: Running Spark\r\n\nok \xc3\xa9\n"
                         b"bad \xff\xfe \x00 nul\ncut \xe2\x82\nno newline at the end",
        "log_many_lines.txt": b"".join(b"line %d\n" % i for i in range(600)),
        "log_long_line.txt": b"x" + "\u00e9".encode() * 33000 + b"\n",
    }
    for k, v in logs.items():
        with open(os.path.join(out, k), "wb") as f:
            f.write(v)


if __name__ == "__main__":
    main()
    if len(sys.argv) > 3:
        logs_seeds(sys.argv[3])
