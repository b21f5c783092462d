#!/usr/bin/env python3
"""A real flytepropeller (v1.16.8, no flyteadmin) runs a FlyteWorkflow whose Spark task node
goes to spok's connector.

flytepropeller runs out of cluster against the fixture's API server with events to its log,
a local blob store, the admin launcher off, and the connector-service plugin as the default
for task type `spark`, pointed at `spok serve --grpc` (unauthenticated-as: propeller sends no
token). kubectl-flyte compiles the `pyflyte package` workflow (my_spark -> hello_spark) into a
FlyteWorkflow. The test plays the Spark operator (status through /status) and the task's
pyflyte-execute (it writes outputs.pb under the output prefix flytepropeller chose), then
expects the FlyteWorkflow to succeed with the object spok created named as Flyte names it.

Usage: test_propeller.py SPOK PACKAGE.tgz PROPELLER_BIN_DIR WORK_DIR (SPOK_K8S_ENV: fixture)
"""
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

from flyteidl.admin import task_pb2, workflow_pb2
from flyteidl.core import literals_pb2, workflow_closure_pb2

SPOK, PACKAGE, BIN, WORK = sys.argv[1:5]
WAIT_S = 300
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


ENV = {}
with open(os.environ["SPOK_K8S_ENV"]) as f:
    for line in f:
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            ENV[k] = v
API = ENV["SPOK_TEST_APISERVER"]
SSL = ssl.create_default_context(cafile=ENV["SPOK_TEST_CA"])
SSL.load_cert_chain(ENV["SPOK_TEST_ADMIN_CERT"], ENV["SPOK_TEST_ADMIN_KEY"])
SPARK = "/apis/sparkoperator.k8s.io/v1beta2/namespaces/%s/sparkapplications"
FLYTEWF = "/apis/flyte.lyft.com/v1alpha1/namespaces/%s/flyteworkflows"


def kube(method, path, body=None, ctype="application/json"):
    for _ in range(100):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(API + path, method=method, data=data,
                                     headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, context=SSL, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                code, out = e.code, json.loads(raw or b"null")
            except ValueError:  # e.g. "404 page not found" for an API not there yet
                code, out = e.code, raw.decode(errors="replace")
        if code != 429:
            return code, out
        time.sleep(0.2)
    return code, out


PROCS = []


def wait_for(what, fn):
    deadline = time.monotonic() + WAIT_S
    while True:
        for p in PROCS:
            if p.poll() is not None:
                fail("%s exited (%s) while waiting for %s; see %s" % (p.args[0], p.returncode,
                                                                    what, WORK))
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out waiting for " + what + "; see " + WORK)
        time.sleep(0.5)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def closure():
    """WorkflowClosure of my_spark with its task, ids filled as registration would."""
    wf, task = None, None
    with tarfile.open(PACKAGE) as tf:
        for m in tf.getmembers():
            raw = tf.extractfile(m).read() if m.isfile() else None
            if m.name.endswith("hello_spark_1.pb"):
                task = task_pb2.TaskSpec()
                task.ParseFromString(raw)
            if m.name.endswith("my_spark_2.pb"):
                wf = workflow_pb2.WorkflowSpec()
                wf.ParseFromString(raw)
    check(wf is not None and task is not None, "package lacks my_spark/hello_spark")
    for ident in [wf.template.id, task.template.id] + \
            [n.task_node.reference_id for n in wf.template.nodes if n.HasField("task_node")]:
        ident.project, ident.domain, ident.version = PROJECT, DOMAIN, VERSION
    c = workflow_closure_pb2.WorkflowClosure(workflow=wf.template, tasks=[task.template])
    return c.SerializeToString()


def literal_map(**ints):
    m = literals_pb2.LiteralMap()
    for k, v in ints.items():
        m.literals[k].scalar.primitive.integer = v
    return m


def float_outputs(v):
    m = literals_pb2.LiteralMap()
    m.literals["o0"].scalar.primitive.float_value = v
    return m.SerializeToString()


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(os.path.join(WORK, "store", "bucket"))
    ns = "prop-" + secrets.token_hex(4)
    check(kube("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})[0] == 201, "namespace")
    token = "prop-" + secrets.token_hex(8)
    with open(os.path.join(WORK, "tokens.yaml"), "w") as f:
        # The workflow runs in the test's namespace, not the one spok.namespace-template gives
        # the project ("flytesnacks-development"): the token must name it (docs/SERVER.md,
        # "Tokens"; the connector goes through the same namespace rules as the HTTP API).
        f.write("- {name: flytepropeller, token-sha256: %s, projects: [%s], namespaces: [%s]}\n"
                % (hashlib.sha256(token.encode()).hexdigest(), PROJECT, ns))
    with open(os.path.join(WORK, "spok.yaml"), "w") as f:
        f.write("spok:\n  default-image: spark:4.0.5\n  spark-version: 4.0.5\n"
                "  clusters:\n  - {name: test, kubeconfig: '%s', context: admin}\n"
                "  server:\n    listen: '127.0.0.1:0'\n    tokens-file: tokens.yaml\n"
                "    grpc: {insecure: true, unauthenticated-as: flytepropeller}\n"
                % ENV["KUBECONFIG"])
    procs = PROCS
    try:
        spok = subprocess.Popen([SPOK, "serve", "--config", os.path.join(WORK, "spok.yaml"),
                                 "--data-dir", os.path.join(WORK, "data"), "--grpc",
                                 "127.0.0.1:0"], stdout=subprocess.PIPE, text=True,
                                stderr=open(os.path.join(WORK, "spok.log"), "w"))
        procs.append(spok)
        port = None
        while port is None:
            line = spok.stdout.readline()
            check(line, "spok serve exited; see spok.log")
            if line.startswith("grpc listening on"):
                port = int(line.split()[-1])
        cfg = os.path.join(WORK, "propeller.yaml")
        with open(cfg, "w") as f:
            f.write("""propeller:
  kube-config: %(kc)s
  create-flyteworkflow-crd: true
  limit-namespace: %(ns)s
  workers: 2
  workflow-reeval-duration: 2s
  downstream-eval-duration: 2s
  metadata-prefix: metadata/propeller
  rawoutput-prefix: file://bucket/raw
  enable-admin-launcher: false
  publish-k8s-events: false
  prof-port: %(prof)d
  leader-election: {enabled: false}
admin:
  endpoint: dns:///127.0.0.1:1
  insecure: true
event:
  type: log
catalog-cache:
  type: noop
storage:
  type: stow
  container: bucket
  stow: {kind: local, config: {path: %(store)s}}
tasks:
  task-plugins:
    enabled-plugins: [container, sidecar, connector-service]
    default-for-task-types: {container: container, spark: connector-service}
plugins:
  connector-service:
    defaultConnector: {endpoint: "dns:///127.0.0.1:%(port)d", insecure: true, defaultTimeout: 10s}
    supportedTaskTypes: [spark]
    webApi: {caching: {resyncInterval: 5s}}
logger:
  level: 4
""" % {"kc": ENV["KUBECONFIG"], "ns": ns, "prof": free_port(),
       "store": os.path.join(WORK, "store"), "port": port})
        prop = subprocess.Popen([os.path.join(BIN, "controller"), "--config", cfg],
                                stdout=open(os.path.join(WORK, "propeller.log"), "w"),
                                stderr=subprocess.STDOUT)
        procs.append(prop)
        wait_for("the FlyteWorkflow CRD", lambda: kube("GET", FLYTEWF % ns)[0] == 200)
        with open(os.path.join(WORK, "wf.pb"), "wb") as f:
            f.write(closure())
        with open(os.path.join(WORK, "inputs.pb"), "wb") as f:
            f.write(literal_map(partitions=2).SerializeToString())
        execution = "p" + secrets.token_hex(5)
        out = subprocess.run([os.path.join(BIN, "kubectl-flyte"), "--kubeconfig",
                              ENV["KUBECONFIG"], "-n", ns, "create", "-p",
                              os.path.join(WORK, "wf.pb"), "-i", os.path.join(WORK, "inputs.pb"),
                              "--execution-id", execution], capture_output=True, text=True)
        check(out.returncode == 0, "kubectl-flyte create: %s %s" % (out.stdout, out.stderr))
        name = execution + "-n0-0"   # Flyte's generated name: [execution, node, attempt]
        app = wait_for("SparkApplication " + name, lambda: (lambda r: r[1] if r[0] == 200
                       else None)(kube("GET", (SPARK % ns) + "/" + name)))
        labels = app["metadata"]["labels"]
        check(labels.get("execution-id") == execution and labels.get("node-id") == "n0",
              "labels %s" % labels)
        args = app["spec"].get("arguments", [])
        prefix = args[args.index("--output-prefix") + 1]
        check(prefix.startswith("file://bucket/"), "output prefix %s" % prefix)
        outdir = os.path.join(WORK, "store", prefix[len("file://"):])
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "outputs.pb"), "wb") as f:
            f.write(float_outputs(3.14))
        for st in ({"applicationState": {"state": "RUNNING"}},
                   {"applicationState": {"state": "COMPLETED"}}):
            code, body = kube("PATCH", (SPARK % ns) + "/" + name + "/status", {"status": st},
                              "application/merge-patch+json")
            check(code == 200, "patch status: %d %s" % (code, body))
        wf = wait_for("the FlyteWorkflow to finish", lambda: (lambda r: r[1] if r[0] == 200 and
                      r[1].get("status", {}).get("phase", 0) in (3, 5, 6) else None)(
                          kube("GET", (FLYTEWF % ns) + "/" + execution)))
        check(wf["status"]["phase"] == 3, "FlyteWorkflow phase %s: %s" % (
            wf["status"]["phase"], json.dumps(wf["status"])[:2000]))
        print("ok: flytepropeller ran the Spark node through spok's connector (%s)" % name)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        kube("DELETE", "/api/v1/namespaces/" + ns)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
