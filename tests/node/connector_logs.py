#!/usr/bin/env python3
"""tests/node/connector_logs.py SPOK - GetTaskLogs on a real driver log (label node).

`spok serve --grpc` against the real node of the k8s-node fixture with the real Spark
operator; flyteidl's Python stubs + grpcio send CreateTask for a Flyte Spark task (PYTHON
SparkJob: the image's own pi.py, the image from scripts/build-image) to namespace spark-jobs
with service account spark. The driver really runs; GetTaskLogs then streams its real log:
one header (empty token), body lines holding "Pi is roughly 3.14...", results and
structured_lines alike; `lines` = 5 keeps at most 5 lines. DeleteTask, then SIGTERM at once:
the daemon runs under ASan/LSan, must exit 0, and must have carried the abort out before it
exits — nothing of the task is left in the namespace (its SparkApplication, and with it the
driver's pod, service and ConfigMaps). Waits are bounded only to turn a hang into a failure.
"""
import hashlib
import os
import re
import secrets
import json
import signal
import ssl
import subprocess
import sys
import tempfile
import time

SPOK = sys.argv[1]
DIR = os.environ.get("SPOK_NODE_DIR")
if not DIR:
    print("run under the k8s-node fixture (ctest -L node)")
    sys.exit(1)
if os.path.exists(os.path.join(DIR, "skipped")):
    print(open(os.path.join(DIR, "skipped")).read().strip())
    sys.exit(77)

import grpc  # noqa: E402 (after the skip: a machine without a node needs no grpcio)
from google.protobuf import json_format, struct_pb2  # noqa: E402
from flyteidl.admin import agent_pb2  # noqa: E402
from flyteidl.core import execution_pb2, identifier_pb2, tasks_pb2  # noqa: E402
from flyteidl.service import agent_pb2_grpc  # noqa: E402

NS = "spark-jobs"
TOKEN = "node-logs-" + secrets.token_hex(8)
WAIT_S = 600
Phase = execution_pb2.TaskExecution
passed = failed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok - " + msg, flush=True)


def not_ok(msg):
    global failed
    failed += 1
    print("not ok - " + msg, flush=True)


def load_env():
    env = {}
    with open(os.path.join(DIR, "env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


ENV = load_env()
IMAGE = ENV.get("SPOK_TEST_SPARK_IMAGE")
if not IMAGE:
    print("no spark image in the node env; run scripts/build-image")
    sys.exit(1)


def api_get(path):
    ctx = ssl.create_default_context(cafile=ENV["SPOK_TEST_CA"])
    ctx.load_cert_chain(ENV["SPOK_TEST_ADMIN_CERT"], ENV["SPOK_TEST_ADMIN_KEY"])
    import urllib.request
    with urllib.request.urlopen(ENV["SPOK_TEST_APISERVER"] + path, context=ctx,
                                timeout=60) as r:
        return json.load(r)


def left_of(prefix):
    """Objects in NS named after the task (or owned by one that is): kind/name."""
    out = []
    for kind, path in (("sparkapplications",
                        "/apis/sparkoperator.k8s.io/v1beta2/namespaces/%s/sparkapplications"),
                       ("pods", "/api/v1/namespaces/%s/pods"),
                       ("services", "/api/v1/namespaces/%s/services"),
                       ("configmaps", "/api/v1/namespaces/%s/configmaps")):
        for o in api_get(path % NS).get("items", []):
            md = o["metadata"]
            owners = [r.get("name", "") for r in md.get("ownerReferences", [])]
            if md["name"].startswith(prefix) or any(n.startswith(prefix) for n in owners):
                out.append("%s/%s" % (kind, md["name"]))
    return out


def check_nothing_left(prefix):
    deadline, left = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        left = left_of(prefix)
        if not left:
            ok("nothing of %s left in %s after DeleteTask and SIGTERM" % (prefix, NS))
            return
        time.sleep(2)
    not_ok("left in %s after DeleteTask and SIGTERM: %s" % (NS, " ".join(left)))


def start_daemon(work):
    with open(os.path.join(work, "tokens.yaml"), "w") as f:
        f.write("- {name: admin, token-sha256: %s, admin: true}\n"
                % hashlib.sha256(TOKEN.encode()).hexdigest())
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write("spok:\n  default-image: %s\n  spark-version: '4.0.5'\n"
                "  clusters:\n  - {name: node, kubeconfig: '%s'}\n"
                "  server:\n    listen: '127.0.0.1:0'\n    tokens-file: tokens.yaml\n"
                "    grpc: {insecure: true}\n" % (IMAGE, ENV["KUBECONFIG"]))
    proc = subprocess.Popen([SPOK, "serve", "--config", os.path.join(work, "config.yaml"),
                             "--data-dir", os.path.join(work, "data"), "--grpc", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "serve.log"),
                                                                "a"), text=True)
    port, http = None, False
    while port is None or not http:
        line = proc.stdout.readline()
        if not line:
            print("spok serve exited (%s)" % proc.wait())
            sys.exit(1)
        if line.startswith("grpc listening on"):
            port = int(line.split()[-1])
        http = http or line.startswith("listening on http")
    return proc, "127.0.0.1:%d" % port


def pi_task():
    job = {"applicationType": "PYTHON",
           "mainApplicationFile": "local:///opt/spark/examples/src/main/python/pi.py",
           "sparkConf": {"spark.driver.memory": "512m", "spark.executor.memory": "512m",
                         "spark.executor.instances": "1",
                         "spark.kubernetes.driver.request.cores": "250m",
                         "spark.kubernetes.executor.request.cores": "250m"}}
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="flytesnacks",
                                     domain="development", name="pi", version="v1"),
        type="spark", custom=json_format.ParseDict(job, struct_pb2.Struct()),
        container=tasks_pb2.Container(image=IMAGE, args=["10"]))


def create(stub, template, execution):
    te = identifier_pb2.TaskExecutionIdentifier(
        task_id=template.id, node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id="n0", execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project="flytesnacks", domain="development", name=execution)))
    md = agent_pb2.TaskExecutionMetadata(task_execution_id=te, namespace=NS,
                                         k8s_service_account="spark")
    req = agent_pb2.CreateTaskRequest(template=template, output_prefix="s3://b/" + execution,
                                      task_execution_metadata=md)
    return stub.CreateTask(req, metadata=(("authorization", "Bearer " + TOKEN),),
                           timeout=60).resource_meta


def logs(stub, meta, lines=0):
    header, results, structured = None, [], []
    req = agent_pb2.GetTaskLogsRequest(resource_meta=meta, lines=lines)
    for resp in stub.GetTaskLogs(req, metadata=(("authorization", "Bearer " + TOKEN),),
                                 timeout=60):
        if resp.WhichOneof("part") == "header":
            if header is not None or results:
                raise AssertionError("a second header, or one after a body")
            header = resp.header
        else:
            if header is None:
                raise AssertionError("a body before the header")
            results.extend(resp.body.results)
            structured.extend(l.message for l in resp.body.structured_lines)
    return header, results, structured


def phase_of(stub, meta):
    return stub.GetTask(agent_pb2.GetTaskRequest(resource_meta=meta),
                        metadata=(("authorization", "Bearer " + TOKEN),), timeout=60).resource


def wait_log(stub, meta):
    """GetTaskLogs until the driver's log has SparkPi's answer (or the run is long over)."""
    deadline, codes, last = time.monotonic() + WAIT_S, set(), None
    while time.monotonic() < deadline:
        try:
            header, results, structured = logs(stub, meta)
            last = (header, results, structured)
            if any("Pi is roughly" in r for r in results):
                return last, codes
        except grpc.RpcError as e:
            # Before the driver runs: NOT_FOUND (no pod yet), FAILED_PRECONDITION (waiting).
            codes.add(e.code().name)
            if e.code() not in (grpc.StatusCode.NOT_FOUND,
                                grpc.StatusCode.FAILED_PRECONDITION):
                raise
        time.sleep(2)
    return last, codes


def check_logs(stub, meta):
    last, codes = wait_log(stub, meta)
    print("# codes while the driver started: %s" % (sorted(codes) or "none"))
    if last is None:
        not_ok("no log stream in %d s; phase %s" % (
            WAIT_S, Phase.Phase.Name(phase_of(stub, meta).phase)))
        return
    header, results, structured = last
    pi = [r for r in results if "Pi is roughly" in r]
    if pi and re.search(r"Pi is roughly 3\.1[2-6]", pi[0]):
        ok("GetTaskLogs: the real driver log (%d lines): %s" % (len(results), pi[0]))
    else:
        not_ok("no 'Pi is roughly 3.14' in %d lines; tail: %r" % (len(results), results[-5:]))
    if header is not None and header.token == "":
        ok("one header, empty token")
    else:
        not_ok("header %r" % header)
    if [s.rstrip("\r\n") for s in structured] == results and \
            all(s.endswith("\n") for s in structured[:-1]):
        ok("structured_lines = results with their terminators")
    else:
        not_ok("structured_lines differ from results")
    _, tail, _ = logs(stub, meta, lines=5)
    if 0 < len(tail) <= 5 and tail == results[-len(tail):]:
        ok("lines=5: the last %d lines" % len(tail))
    else:
        not_ok("lines=5 gave %d lines: %r" % (len(tail), tail))


def main():
    work = tempfile.mkdtemp(prefix="spok-node-logs-")
    proc, addr = start_daemon(work)
    execution = None
    try:
        with grpc.insecure_channel(addr) as ch:
            stub = agent_pb2_grpc.AsyncAgentServiceStub(ch)
            execution = "nl" + secrets.token_hex(4)
            meta = create(stub, pi_task(), execution)
            ok("CreateTask: %s" % meta.decode())
            check_logs(stub, meta)
            stub.DeleteTask(agent_pb2.DeleteTaskRequest(resource_meta=meta),
                            metadata=(("authorization", "Bearer " + TOKEN),), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
        (ok if rc == 0 else not_ok)("spok serve exit %d after SIGTERM" % rc)
    if execution:
        check_nothing_left(execution)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
