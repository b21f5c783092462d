#!/usr/bin/env python3
"""The Flyte connector end to end, with real clients and real parts.

flyteidl's own generated Python stubs and grpcio drive `spok serve --grpc` (the real binary)
against the real kube-apiserver of the `k8s` fixture, with a task made by the real
`pyflyte package` (fixture `flyteidl_package`). Nothing runs the Spark operator: the test
plays it by patching status.applicationState through the /status subresource, as
tests/engine and tests/server do. Waits are bounded only to turn a hang into a failure.

GetTaskLogs: its refusals, the clear NOT_FOUND before the driver pod exists, a real (empty:
no kubelet) log stream once it does, and - against a "hang" cluster whose API server never
answers - the stream cap, client cancellation, the client's deadline and shutdown mid-stream,
each checked through the daemon's own fetch metrics (the daemon runs under ASan/LSan: a leak
or use-after-free fails its exit). A driver log with real lines needs a real node:
tests/node/connector_logs.py (label node).

Usage: test_connector.py SPOK_BINARY PACKAGE.tgz WORK_DIR   (SPOK_K8S_ENV names the fixture)
"""
import hashlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

import grpc
from flyteidl.admin import agent_pb2, task_pb2
from flyteidl.core import execution_pb2, identifier_pb2
from flyteidl.service import agent_pb2_grpc

ADMIN_TOKEN = "grpc-admin-" + secrets.token_hex(8)
OTHER_TOKEN = "grpc-other-" + secrets.token_hex(8)
Phase = execution_pb2.TaskExecution
WAIT_S = 120

SPOK, PACKAGE, WORK = sys.argv[1], sys.argv[2], sys.argv[3]


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def load_env():
    path = os.environ.get("SPOK_K8S_ENV")
    if not path or not os.path.exists(path):
        fail("SPOK_K8S_ENV is not set or missing: run under ctest (fixture k8s)")
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


ENV = load_env()
API = ENV["SPOK_TEST_APISERVER"]
SSL = ssl.create_default_context(cafile=ENV["SPOK_TEST_CA"])
SSL.load_cert_chain(ENV["SPOK_TEST_ADMIN_CERT"], ENV["SPOK_TEST_ADMIN_KEY"])
SPARK = "/apis/sparkoperator.k8s.io/v1beta2/namespaces/%s/sparkapplications"


def kube_once(method, path, body, ctype):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(API + path, method=method, data=data,
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, context=SSL, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def kube(method, path, body=None, ctype="application/json"):
    # A fresh API server answers 429 while it warms up: retry like a client would.
    for _ in range(100):
        code, out = kube_once(method, path, body, ctype)
        if code != 429:
            return code, out
        time.sleep(0.2)
    return code, out


def patch_status(ns, name, status):
    code, body = kube("PATCH", (SPARK % ns) + "/" + name + "/status", {"status": status},
                      "application/merge-patch+json")
    check(code == 200, "patch status of %s: HTTP %d %s" % (name, code, body))


def apps_of(ns, execution):
    code, body = kube("GET", (SPARK % ns) + "?labelSelector=execution-id%3D" + execution)
    check(code == 200, "list: HTTP %d" % code)
    return body["items"]


# ---- the daemon ----

class Daemon:
    def __init__(self):
        self.proc = None
        self.port = None
        self.http = None

    def start(self, extra_grpc=None):
        log = open(os.path.join(WORK, "serve.log"), "a")
        args = [SPOK, "serve", "--config", os.path.join(WORK, "config.yaml"),
                "--data-dir", os.path.join(WORK, "data"), "--grpc", "127.0.0.1:0"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        http = False
        while self.port is None or not http:
            line = self.proc.stdout.readline()
            if not line:
                fail("spok serve exited (%s); see %s/serve.log" % (self.proc.wait(), WORK))
            if line.startswith("grpc listening on"):
                self.port = int(line.split()[-1])
            if line.startswith("listening on http"):
                http = True
                self.http = line.split()[-1]
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        check(rc == 0, "spok serve exited %d after SIGTERM (leak or crash?); see serve.log" % rc)
        self.proc.stdout.close()
        self.port = None


def metric(daemon, name):
    with urllib.request.urlopen(daemon.http + "/metrics", timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
    fail("metric %s missing" % name)


def wait_metric(daemon, name, want):
    deadline = time.monotonic() + WAIT_S
    while (v := metric(daemon, name)) != want:
        if time.monotonic() > deadline:
            fail("metric %s is %d, want %d" % (name, v, want))
        time.sleep(0.2)


def write_config(grpc_section="{insecure: true}", hang_port=None):
    # hang_port: a second cluster "hang" whose API server accepts but never answers, where
    # the project "hang" goes (its log fetches stay in flight until cancelled).
    hang = ""
    if hang_port:
        with open(os.path.join(WORK, "hang.kubeconfig"), "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: hang\n"
                    "clusters: [{name: hang, cluster: {server: 'https://127.0.0.1:%d', "
                    "insecure-skip-tls-verify: true}}]\n"
                    "users: [{name: u, user: {token: not-a-real-token}}]\n"
                    "contexts: [{name: hang, context: {cluster: hang, user: u}}]\n" % hang_port)
        hang = ("  - {name: hang, kubeconfig: hang.kubeconfig}\n  routes:\n"
                "  - {project: hang, domain: '*', cluster: hang}\n"
                "  - {project: '*', domain: '*', cluster: test}\n")
    def h(t):
        return hashlib.sha256(t.encode()).hexdigest()
    with open(os.path.join(WORK, "tokens.yaml"), "w") as f:
        f.write("- {name: admin, token-sha256: %s, admin: true}\n" % h(ADMIN_TOKEN))
        f.write("- {name: other, token-sha256: %s, projects: [other]}\n" % h(OTHER_TOKEN))
    with open(os.path.join(WORK, "config.yaml"), "w") as f:
        f.write("spok:\n  default-image: spark:4.0.5\n  spark-version: 4.0.5\n"
                "  clusters:\n  - {name: test, kubeconfig: '%s', context: admin}\n%s"
                "  server:\n    listen: '127.0.0.1:0'\n    tokens-file: tokens.yaml\n"
                "    grpc: %s\n" % (ENV["KUBECONFIG"], hang, grpc_section))


# ---- requests ----

def spark_template():
    with tarfile.open(PACKAGE) as tf:
        for m in tf.getmembers():
            if m.name.endswith("hello_spark_1.pb"):
                spec = task_pb2.TaskSpec()
                spec.ParseFromString(tf.extractfile(m).read())
                # What registration adds, and what flytepropeller then sends.
                spec.template.id.project = "flytesnacks"
                spec.template.id.domain = "development"
                spec.template.id.version = "v1"
                return spec.template
    fail("no hello_spark task in " + PACKAGE)


def create_request(template, ns, execution, attempt=0):
    te = identifier_pb2.TaskExecutionIdentifier(
        task_id=template.id, retry_attempt=attempt,
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id="n0", execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project=template.id.project, domain=template.id.domain, name=execution)))
    md = agent_pb2.TaskExecutionMetadata(
        task_execution_id=te, namespace=ns, labels={"team": "ml", "execution-id": execution},
        annotations={"note": "from-propeller"}, k8s_service_account="flyte-sa",
        environment_variables={"CONNECTOR_ENV": "yes"})
    return agent_pb2.CreateTaskRequest(template=template, output_prefix="s3://bucket/out/" +
                                       execution, task_execution_metadata=md)


def auth(token=ADMIN_TOKEN):
    return (("authorization", "Bearer " + token),)


def code_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


def get(stub, meta, token=ADMIN_TOKEN):
    req = agent_pb2.GetTaskRequest(resource_meta=meta,
                                   task_category=agent_pb2.TaskCategory(name="spark"))
    return stub.GetTask(req, metadata=auth(token), timeout=30).resource


def logs_request(meta, lines=0, token=""):
    return agent_pb2.GetTaskLogsRequest(resource_meta=meta, lines=lines, token=token,
                                        task_category=agent_pb2.TaskCategory(name="spark"))


def get_logs(stub, meta, token=ADMIN_TOKEN, lines=0, page=""):
    """The whole GetTaskLogs stream: (header, [lines]); raises grpc.RpcError on a status."""
    header, lines_out, structured = None, [], []
    md = auth(token) if token else None
    for resp in stub.GetTaskLogs(logs_request(meta, lines, page), metadata=md, timeout=30):
        part = resp.WhichOneof("part")
        if part == "header":
            check(header is None and not lines_out, "a second header, or one after a body")
            header = resp.header
        else:
            check(header is not None, "a body before the header")
            lines_out.extend(resp.body.results)
            structured.extend(l.message for l in resp.body.structured_lines)
    check(header is not None, "no header message")
    check(header.token == "", "header token %r: spok does not paginate" % header.token)
    check(len(structured) == len(lines_out), "results and structured_lines differ")
    return header, lines_out


def wait_phase(stub, meta, want):
    deadline = time.monotonic() + WAIT_S
    while True:
        r = get(stub, meta)
        if r.phase == want:
            return r
        if time.monotonic() > deadline:
            fail("phase %s, want %s (%s)" % (Phase.Phase.Name(r.phase), Phase.Phase.Name(want),
                                              r.message))
        time.sleep(0.2)


def wait_gone(ns, name):
    deadline = time.monotonic() + WAIT_S
    while kube("GET", (SPARK % ns) + "/" + name)[0] != 404:
        if time.monotonic() > deadline:
            fail("SparkApplication %s was not deleted" % name)
        time.sleep(0.2)


# ---- checks ----

def test_health_and_metadata(channel):
    check_raw = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=None, response_deserializer=None)
    check(check_raw(b"", timeout=10) == b"\x08\x01", "health: not SERVING")
    c, _ = code_of(check_raw, b"\x0a\x03foo", timeout=10)
    check(c == grpc.StatusCode.NOT_FOUND, "health of an unknown service: %s" % c)
    meta = agent_pb2_grpc.AgentMetadataServiceStub(channel)
    agents = meta.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    check(len(agents) == 1 and agents[0].name == "spok" and not agents[0].is_sync, "agents")
    cats = agents[0].supported_task_categories
    check([(x.name, x.version) for x in cats] == [("spark", 0)], "task categories %s" % cats)
    check(meta.GetAgent(agent_pb2.GetAgentRequest(name="spok"), timeout=10).agent.name == "spok",
          "GetAgent")
    c, _ = code_of(meta.GetAgent, agent_pb2.GetAgentRequest(name="nope"), timeout=10)
    check(c == grpc.StatusCode.NOT_FOUND, "GetAgent nope: %s" % c)
    print("ok: health, ListAgents, GetAgent", flush=True)


def test_refusals(stub, channel, template, ns):
    req = create_request(template, ns, "refused-" + secrets.token_hex(3))
    c, d = code_of(stub.CreateTask, req, timeout=30)
    check(c == grpc.StatusCode.UNAUTHENTICATED and "authorization" in d, "no token: %s %s" % (c, d))
    c, d = code_of(stub.CreateTask, req, metadata=auth("wrong-token"), timeout=30)
    check(c == grpc.StatusCode.UNAUTHENTICATED, "bad token: %s %s" % (c, d))
    c, d = code_of(stub.CreateTask, req, metadata=auth(OTHER_TOKEN), timeout=30)
    check(c == grpc.StatusCode.PERMISSION_DENIED and "may not use project" in d,
          "other project: %s %s" % (c, d))
    # An over-long authorization value is a wrong token, never "no token".
    c, d = code_of(stub.CreateTask, req, metadata=auth("x" * 5000), timeout=30)
    check(c == grpc.StatusCode.UNAUTHENTICATED, "over-long token: %s %s" % (c, d))
    # A task registered in flytesnacks, run by an execution of project "other" (a reference
    # task): rights, namespace and the stored row are the execution's project, so the
    # "other" token may run it in other-development, not in flytesnacks' namespace.
    ref = create_request(template, "other-development", "ref-" + secrets.token_hex(3))
    ref.task_execution_metadata.task_execution_id.node_execution_id.execution_id.project = \
        "other"
    meta = stub.CreateTask(ref, metadata=auth(OTHER_TOKEN), timeout=30).resource_meta
    get(stub, meta, OTHER_TOKEN)   # the row is project "other"'s: its token may read it
    c, d = code_of(stub.CreateTask, create_request(template, "flytesnacks-development",
                                                   "ref2-" + secrets.token_hex(3)),
                   metadata=auth(OTHER_TOKEN), timeout=30)
    check(c == grpc.StatusCode.PERMISSION_DENIED, "other token in flytesnacks: %s %s" % (c, d))
    bad = create_request(template, ns, "bad-" + secrets.token_hex(3))
    bad.template.type = "python-task"
    c, d = code_of(stub.CreateTask, bad, metadata=auth(), timeout=30)
    check(c == grpc.StatusCode.INVALID_ARGUMENT and "not a Spark task" in d,
          "bad TaskTemplate: %s %s" % (c, d))
    nomd = create_request(template, ns, "nomd")
    nomd.ClearField("task_execution_metadata")
    c, d = code_of(stub.CreateTask, nomd, metadata=auth(), timeout=30)
    check(c == grpc.StatusCode.INVALID_ARGUMENT and "task_execution_metadata" in d,
          "no metadata: %s %s" % (c, d))
    raw = channel.unary_unary("/flyteidl.service.AsyncAgentService/CreateTask",
                              request_serializer=None, response_deserializer=None)
    c, d = code_of(raw, b"\xff\xff\xff", metadata=auth(), timeout=30)
    check(c == grpc.StatusCode.INVALID_ARGUMENT and "CreateTaskRequest" in d,
          "garbage: %s %s" % (c, d))
    c, d = code_of(stub.GetTaskMetrics, agent_pb2.GetTaskMetricsRequest(), timeout=30)
    check(c == grpc.StatusCode.UNIMPLEMENTED, "GetTaskMetrics: %s" % c)
    c, d = code_of(get, stub, b"sp-doesnotexist")
    check(c == grpc.StatusCode.NOT_FOUND, "GetTask unknown: %s %s" % (c, d))
    c, d = code_of(get, stub, b"../../etc")
    check(c == grpc.StatusCode.INVALID_ARGUMENT, "GetTask bad meta: %s %s" % (c, d))
    c, d = code_of(get_logs, stub, b"sp-doesnotexist")
    check(c == grpc.StatusCode.NOT_FOUND and "does not exist" in d,
          "GetTaskLogs unknown: %s %s" % (c, d))
    c, d = code_of(get_logs, stub, b"../../etc")
    check(c == grpc.StatusCode.INVALID_ARGUMENT and "resource_meta" in d,
          "GetTaskLogs bad meta: %s %s" % (c, d))
    c, d = code_of(get_logs, stub, b"sp-doesnotexist", None)
    check(c == grpc.StatusCode.UNAUTHENTICATED and "authorization" in d,
          "GetTaskLogs without a token: %s %s" % (c, d))
    c, d = code_of(get_logs, stub, b"sp-doesnotexist", "wrong-token")
    check(c == grpc.StatusCode.UNAUTHENTICATED, "GetTaskLogs bad token: %s %s" % (c, d))
    c, d = code_of(get_logs, stub, b"sp-doesnotexist", page="p2")
    check(c == grpc.StatusCode.INVALID_ARGUMENT and "token" in d,
          "GetTaskLogs page token: %s %s" % (c, d))
    raw = channel.unary_stream("/flyteidl.service.AsyncAgentService/GetTaskLogs",
                               request_serializer=None, response_deserializer=None)
    c, d = code_of(lambda: list(raw(b"\xff\xff\xff", metadata=auth(), timeout=30)))
    check(c == grpc.StatusCode.INVALID_ARGUMENT and "GetTaskLogsRequest" in d,
          "GetTaskLogs garbage: %s %s" % (c, d))
    check(apps_of(ns, req.task_execution_metadata.task_execution_id.node_execution_id
                  .execution_id.name) == [], "a refused request created an object")
    print("ok: UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, UNIMPLEMENTED, NOT_FOUND",
          flush=True)


def check_object(ns, name, execution):
    # The engine creates the object right after CreateTask answers (write-ahead first).
    deadline = time.monotonic() + WAIT_S
    while (code_app := kube("GET", (SPARK % ns) + "/" + name))[0] == 404:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    code, app = code_app
    check(code == 200, "SparkApplication %s/%s: HTTP %d (Flyte's name expected)" % (ns, name, code))
    labels, ann = app["metadata"]["labels"], app["metadata"]["annotations"]
    check(labels.get("execution-id") == execution and labels.get("node-id") == "n0" and
          labels.get("team") == "ml", "labels %s" % labels)
    check(ann.get("note") == "from-propeller", "annotations %s" % ann)
    check(app["spec"]["driver"].get("serviceAccount") == "flyte-sa", "service account")
    text = json.dumps(app["spec"])
    check('"CONNECTOR_ENV"' in text, "environment variable from the metadata is missing")
    check('"FLYTE_INTERNAL_EXECUTION_ID", "value": "%s"' % execution in text or
          ('"value": "%s"' % execution in text), "FLYTE_INTERNAL_EXECUTION_ID")
    return app


def test_lifecycle(stub, daemon, template, ns):
    execution = "f" + secrets.token_hex(5)
    name = execution + "-n0-0"   # Flyte's generated name of [execution, node, attempt]
    req = create_request(template, ns, execution)
    meta = stub.CreateTask(req, metadata=auth(), timeout=30).resource_meta
    check(meta.startswith(b"sp-"), "resource_meta %r" % meta)
    check_object(ns, name, execution)
    again = stub.CreateTask(req, metadata=auth(), timeout=30).resource_meta
    check(again == meta, "re-create: %r != %r" % (again, meta))
    check(len(apps_of(ns, execution)) == 1, "re-create made a second object")
    c, _ = code_of(get, stub, meta, OTHER_TOKEN)
    check(c == grpc.StatusCode.PERMISSION_DENIED, "GetTask by another project's token: %s" % c)
    c, d = code_of(get_logs, stub, meta, OTHER_TOKEN)
    check(c == grpc.StatusCode.PERMISSION_DENIED and "may not use project" in d,
          "GetTaskLogs by another project's token: %s %s" % (c, d))
    # No status yet: the operator's default driver pod name, which does not exist yet.
    c, d = code_of(get_logs, stub, meta)
    check(c == grpc.StatusCode.NOT_FOUND and "driver pod %s/%s-driver does not exist" % (ns, name)
          in d and "has not started" in d, "GetTaskLogs before the driver: %s %s" % (c, d))
    patch_status(ns, name, {"applicationState": {"state": "SUBMITTED"}})
    wait_phase(stub, meta, Phase.INITIALIZING)
    patch_status(ns, name, {"applicationState": {"state": "RUNNING"}, "sparkApplicationId":
                            "spark-1", "driverInfo": {"podName": name + "-driver",
                                                      "webUIIngressAddress": "ui.example/x"}})
    r = wait_phase(stub, meta, Phase.RUNNING)
    test_logs_pod(stub, meta, ns, name + "-driver")
    names = [l.name for l in r.log_links]
    check(any(n.endswith("(Driver Logs)") for n in names), "log links %s" % names)
    check(any(l.uri == "https://ui.example/x" and l.name == "Spark Driver UI"
              for l in r.log_links), "Spark UI link %s" % names)
    check(r.custom_info.fields["sparkDriverUI"].string_value == "https://ui.example/x",
          "custom_info %s" % r.custom_info)
    print("ok: CreateTask named as Flyte names it, idempotent, phases, log links", flush=True)

    # Restart mid-run: the same request creates nothing new; the run goes on.
    daemon.stop()
    test_reconcile_loads(meta.decode())
    addr = daemon.start()
    with grpc.insecure_channel(addr) as ch:
        stub2 = agent_pb2_grpc.AsyncAgentServiceStub(ch)
        again = stub2.CreateTask(req, metadata=auth(), timeout=30).resource_meta
        check(again == meta, "re-create after restart: %r != %r" % (again, meta))
        check(len(apps_of(ns, execution)) == 1, "re-create after restart made an object")
        wait_phase(stub2, meta, Phase.RUNNING)
        patch_status(ns, name, {"applicationState": {"state": "COMPLETED"},
                                "terminationTime": "2026-01-01T00:00:00Z"})
        wait_phase(stub2, meta, Phase.SUCCEEDED)
    print("ok: restart mid-run, idempotent across restarts, SUCCEEDED", flush=True)
    return addr


def test_burst(stub, template, ns):
    """CreateTask calls sent at once are answered after the group commit their rows share:
    each of 16 executions, asked twice in the same burst, gets one id, and one object."""
    executions = ["b" + secrets.token_hex(5) for _ in range(16)]
    futures = [(x, stub.CreateTask.future(create_request(template, ns, x), metadata=auth(),
                                          timeout=60))
               for x in executions + executions]
    metas = {}
    for x, f in futures:
        meta = f.result().resource_meta
        check(meta.startswith(b"sp-"), "burst resource_meta %r" % meta)
        check(metas.setdefault(x, meta) == meta, "burst: %s got %r and %r" % (x, metas[x], meta))
    check(len(set(metas.values())) == len(executions), "burst: executions share an id")
    for x in executions:
        check_object(ns, x + "-n0-0", x)
        check(len(apps_of(ns, x)) == 1, "burst: %s has %d objects" % (x, len(apps_of(ns, x))))
    print("ok: a burst of CreateTask calls, each execution asked twice: one id, one object",
          flush=True)


def test_reconcile_loads(xid):
    """`spok reconcile` follows a connector execution with the daemon's own loader: the
    stored task is the CreateTaskRequest (.ctr), which the job-file loader cannot read."""
    kc = os.path.join(WORK, "reconcile.kubeconfig")
    with open(ENV["KUBECONFIG"]) as f:
        text = f.read()
    # The daemon's cluster is named "test"; reconcile names clusters by kubeconfig context:
    # add a context "test" with the admin context's cluster and user (tests/k8s fixture).
    check("\ncontexts:\n" in text, "fixture kubeconfig without a contexts list")
    with open(kc, "w") as f:
        f.write(text.replace("\ncontexts:\n", "\ncontexts:\n- name: test\n  context: "
                             "{cluster: spok-test, user: admin, namespace: default}\n", 1))
    data = os.path.join(WORK, "data")
    err = open(os.path.join(WORK, "reconcile.log"), "w+")
    p = subprocess.Popen([SPOK, "reconcile", "--kubeconfig", kc, "--cluster", "test",
                          "--data-dir", data], stdout=subprocess.DEVNULL, stderr=err)
    claimed = False
    for _ in range(300):
        out = subprocess.run([SPOK, "status", xid, "--no-refresh", "-o", "json", "--data-dir",
                              data], capture_output=True, text=True)
        if out.returncode == 0 and json.loads(out.stdout).get("supervisor_pid") == p.pid:
            claimed = True
            break
        if p.poll() is not None:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    err.seek(0)
    log = err.read()
    check(claimed, "spok reconcile did not take over %s: %s" % (xid, log[-600:]))
    check("cannot reload the task" not in log, "spok reconcile could not load the connector's "
          "task: %s" % log[-600:])
    print("ok: spok reconcile loads a connector execution's task", flush=True)


def test_logs_pod(stub, meta, ns, pod):
    # The driver pod (from status.driverInfo.podName) exists but is on no node: the API
    # server answers its log with nothing, so the stream is the header and no lines.
    kube("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns, {"metadata": {"name": "default"}})
    code, body = kube("POST", "/api/v1/namespaces/%s/pods" % ns, {
        "metadata": {"name": pod}, "spec": {"automountServiceAccountToken": False, "containers": [
            {"name": "spark-kubernetes-driver", "image": "spark:4.0.5"}]}})
    check(code == 201, "create pod %s: HTTP %d %s" % (pod, code, body))
    header, lines = get_logs(stub, meta)
    check(lines == [], "log of a pod on no node: %r" % lines[:3])
    header, lines = get_logs(stub, meta, lines=5)
    check(lines == [], "tail of a pod on no node: %r" % lines[:3])
    print("ok: GetTaskLogs: NOT_FOUND before the driver pod, PERMISSION_DENIED, a stream once "
          "it exists", flush=True)


def test_logs_streams(template, ns):
    # A cluster whose API server accepts connections and never answers: every log fetch on
    # it stays in flight until something cancels it.
    import socket
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)
    write_config(hang_port=hang.getsockname()[1])
    daemon = Daemon()
    addr = daemon.start()
    try:
        with grpc.insecure_channel(addr) as ch:
            stub = agent_pb2_grpc.AsyncAgentServiceStub(ch)
            hang_task = type(template)()
            hang_task.CopyFrom(template)
            hang_task.id.project = "hang"
            meta = stub.CreateTask(create_request(hang_task, ns, "h" + secrets.token_hex(5)),
                                   metadata=auth(), timeout=30).resource_meta
            started = metric(daemon, "spok_log_fetches_total")
            cancelled = metric(daemon, "spok_log_fetches_cancelled_total")
            # The client's deadline passes: the fetch is cancelled.
            it = stub.GetTaskLogs(logs_request(meta), metadata=auth(), timeout=10)
            wait_metric(daemon, "spok_log_fetches_in_flight", 1)
            c, d = code_of(lambda: list(it))
            check(c == grpc.StatusCode.DEADLINE_EXCEEDED, "deadline: %s %s" % (c, d))
            wait_metric(daemon, "spok_log_fetches_in_flight", 0)
            check(metric(daemon, "spok_log_fetches_total") == started + 1, "fetch not started")
            check(metric(daemon, "spok_log_fetches_cancelled_total") == cancelled + 1,
                  "deadline: fetch not cancelled")
            # The client cancels.
            it = stub.GetTaskLogs(logs_request(meta), metadata=auth())
            wait_metric(daemon, "spok_log_fetches_in_flight", 1)
            it.cancel()
            wait_metric(daemon, "spok_log_fetches_in_flight", 0)
            check(metric(daemon, "spok_log_fetches_cancelled_total") == cancelled + 2,
                  "client cancel: fetch not cancelled")
            print("ok: GetTaskLogs: the client's deadline and cancel stop the fetch", flush=True)
            # At most 16 streams at once; then shutdown with all of them in flight.
            its = [stub.GetTaskLogs(logs_request(meta), metadata=auth()) for _ in range(16)]
            wait_metric(daemon, "spok_log_fetches_in_flight", 16)
            c, d = code_of(lambda: list(stub.GetTaskLogs(logs_request(meta), metadata=auth(),
                                                         timeout=30)))
            check(c == grpc.StatusCode.RESOURCE_EXHAUSTED and "16" in d, "17th: %s %s" % (c, d))
            print("ok: GetTaskLogs: a 17th stream is RESOURCE_EXHAUSTED", flush=True)
            daemon.stop()   # exit 0 under ASan/LSan: nothing leaked, nothing used after free
            for it in its:
                c, d = code_of(lambda: list(it))
                check(c in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED),
                      "stream at shutdown: %s %s" % (c, d))
            print("ok: GetTaskLogs: shutdown with 16 streams in flight", flush=True)
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.kill()
        hang.close()
        write_config()


def test_failures(stub, template, ns):
    execution = "f" + secrets.token_hex(5)
    name = execution + "-n0-2"
    meta = stub.CreateTask(create_request(template, ns, execution, attempt=2), metadata=auth(),
                           timeout=30).resource_meta
    app = check_object(ns, name, execution)
    check('"FLYTE_ATTEMPT_NUMBER", "value": "2"' in json.dumps(app["spec"]), "attempt number")
    patch_status(ns, name, {"applicationState": {"state": "FAILED",
                                                 "errorMessage": "driver OOM"}})
    r = wait_phase(stub, meta, Phase.RETRYABLE_FAILED)
    check("driver OOM" in r.message, "failure message %r" % r.message)
    print("ok: Spark FAILED -> RETRYABLE_FAILED (attempt 2 named %s)" % name, flush=True)

    execution = "f" + secrets.token_hex(5)
    name = execution + "-n0-0"
    meta = stub.CreateTask(create_request(template, ns, execution), metadata=auth(),
                           timeout=30).resource_meta
    check_object(ns, name, execution)
    c, _ = code_of(stub.DeleteTask, agent_pb2.DeleteTaskRequest(resource_meta=meta),
                   metadata=auth(OTHER_TOKEN), timeout=30)
    check(c == grpc.StatusCode.PERMISSION_DENIED, "DeleteTask by another project: %s" % c)
    stub.DeleteTask(agent_pb2.DeleteTaskRequest(resource_meta=meta), metadata=auth(), timeout=30)
    wait_phase(stub, meta, Phase.ABORTED)
    wait_gone(ns, name)
    stub.DeleteTask(agent_pb2.DeleteTaskRequest(resource_meta=meta), metadata=auth(), timeout=30)
    print("ok: DeleteTask aborts and deletes; a second DeleteTask is a no-op", flush=True)


def test_config(daemon, template, ns):
    # Neither TLS nor an explicit insecure: refused, at --check-config and at start.
    write_config("{listen: '127.0.0.1:0'}")
    out = subprocess.run([SPOK, "serve", "--check-config", "--config",
                          os.path.join(WORK, "config.yaml"), "--grpc", "127.0.0.1:0"],
                         capture_output=True, text=True)
    check(out.returncode != 0 and "insecure: true" in out.stderr,
          "no TLS, no insecure: rc %d %s" % (out.returncode, out.stderr))
    write_config("{insecure: true, unauthenticated-as: nobody}")
    out = subprocess.run([SPOK, "serve", "--config", os.path.join(WORK, "config.yaml"),
                          "--data-dir", os.path.join(WORK, "data"), "--grpc", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode != 0 and "no token named 'nobody'" in out.stderr,
          "unknown unauthenticated-as: rc %d %s" % (out.returncode, out.stderr))
    print("ok: plaintext only when configured; unauthenticated-as must name a token", flush=True)

    # unauthenticated-as: calls without a token get exactly that token's rights.
    write_config("{insecure: true, unauthenticated-as: other}")
    addr = daemon.start()
    with grpc.insecure_channel(addr) as ch:
        stub = agent_pb2_grpc.AsyncAgentServiceStub(ch)
        c, d = code_of(stub.CreateTask, create_request(template, ns, "anon"), timeout=30)
        check(c == grpc.StatusCode.PERMISSION_DENIED and "'other'" in d,
              "unauthenticated-as other: %s %s" % (c, d))
        # A token too long to read is a wrong token, not "no token" (which would get
        # unauthenticated-as's rights).
        c, d = code_of(stub.CreateTask, create_request(template, ns, "long"),
                       metadata=auth("x" * 5000), timeout=30)
        check(c == grpc.StatusCode.UNAUTHENTICATED, "over-long token with unauthenticated-as: "
              "%s %s" % (c, d))
    daemon.stop()
    print("ok: unauthenticated-as maps token-less calls to one token's rights", flush=True)

    # TLS: the server certificate verifies; a plaintext client gets nowhere.
    cert, key = os.path.join(WORK, "tls.crt"), os.path.join(WORK, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    write_config("{tls-cert: tls.crt, tls-key: tls.key}")
    addr = daemon.start()
    with open(cert, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    with grpc.secure_channel(addr, creds) as ch:
        meta = agent_pb2_grpc.AgentMetadataServiceStub(ch)
        check(meta.ListAgents(agent_pb2.ListAgentsRequest(), timeout=30).agents[0].name ==
              "spok", "ListAgents over TLS")
        stub = agent_pb2_grpc.AsyncAgentServiceStub(ch)
        c, _ = code_of(stub.CreateTask, create_request(template, ns, "tls"), timeout=30)
        check(c == grpc.StatusCode.UNAUTHENTICATED, "TLS without token: %s" % c)
    with grpc.insecure_channel(addr) as ch:
        meta = agent_pb2_grpc.AgentMetadataServiceStub(ch)
        c, _ = code_of(meta.ListAgents, agent_pb2.ListAgentsRequest(), timeout=10)
        check(c == grpc.StatusCode.UNAVAILABLE, "plaintext client on the TLS port: %s" % c)
    daemon.stop()
    write_config()
    print("ok: TLS server credentials", flush=True)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    write_config()
    template = spark_template()
    ns = "grpc-" + secrets.token_hex(4)
    code, body = kube("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    check(code == 201, "create namespace: HTTP %d %s" % (code, body))
    daemon = Daemon()
    try:
        addr = daemon.start()
        with grpc.insecure_channel(addr) as ch:
            stub = agent_pb2_grpc.AsyncAgentServiceStub(ch)
            test_health_and_metadata(ch)
            test_refusals(stub, ch, template, ns)
            addr = test_lifecycle(stub, daemon, template, ns)
        with grpc.insecure_channel(addr) as ch:
            test_burst(agent_pb2_grpc.AsyncAgentServiceStub(ch), template, ns)
            test_failures(agent_pb2_grpc.AsyncAgentServiceStub(ch), template, ns)
        daemon.stop()
        test_logs_streams(template, ns)
        test_config(daemon, template, ns)
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.proc.kill()
        kube("DELETE", "/api/v1/namespaces/" + ns)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
