#!/usr/bin/env python3
"""run.py - spok's differential test against Flyte's own Spark plugin.

For every case of cases.json, builds the SparkApplication twice from the same inputs (a real
`pyflyte package`, a Flyte-shaped config file, the execution facts):
  * flyteref: flyteplugins' Spark BuildResource plus flytepropeller's object-metadata step
    (tests/conformance/ref, built by scripts/setup-conformance), and
  * `spok render -o json`,
then compares the two JSON documents field by field. Only the normalizations listed in
docs/DIFFERENCES.md ("What the differential test normalizes") are applied; any other
difference fails the case.

Usage: run.py --spok BIN --ref BIN --package PKG.tgz [--only SUBSTRING] [--verbose]
Exit status: 0 all cases agree, 1 some differ, 77 flyteref is not built (ctest: skipped).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
NS = "flytesnacks-development"
START_TIME = "spark.kubernetes.driverEnv.FLYTE_START_TIME"
DEFAULT_EXEC = {
    "execution": "abc123",
    "node_id": "n0",
    "attempt": 0,
    "service_account": "",
    "interruptible": False,
    "prev_checkpoint": "",
}


def exec_facts(case):
    x = dict(DEFAULT_EXEC)
    x.update(case.get("exec", {}))
    gen = "%s-%s-%d" % (x["execution"], x["node_id"], x["attempt"])
    x.setdefault("input_prefix", "s3://bucket/metadata/propeller/%s/%s/data" % (x["execution"], x["node_id"]))
    x.setdefault("output_prefix", "%s/%d" % (x["input_prefix"], x["attempt"]))
    x.setdefault("raw_output_prefix", "s3://bucket/raw/ab/%s" % gen)
    return x


def common_flags(x):
    flags = ["--execution", x["execution"], "--node-id", x["node_id"], "--attempt", str(x["attempt"]),
             "--input-prefix", x["input_prefix"], "--output-prefix", x["output_prefix"],
             "--raw-output-prefix", x["raw_output_prefix"], "--prev-checkpoint", x["prev_checkpoint"]]
    if x["service_account"]:
        flags += ["--service-account", x["service_account"]]
    if x["interruptible"]:
        flags += ["--interruptible"]
    return flags


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def build_both(args, case, config):
    x = exec_facts(case)
    flags = common_flags(x)
    ref = [args.ref, "--package", args.package, "--task", case["task"], "--config", config,
           "--namespace", NS, "--project", "spok", "--domain", "development"] + flags
    spok = [args.spok, "render", args.package, "--task", case["task"], "--config", config, "-o", "json",
            "-n", NS, "--now-ms", "0"] + flags
    return run(ref), run(spok)


# ---- normalizations: each one is listed in docs/DIFFERENCES.md ----

def default_env_count(config):
    """Number of plugins.k8s.default-env-vars entries (Go appends them in map order)."""
    import yaml  # PyYAML ships with flytekit's venv
    with open(config) as f:
        doc = yaml.safe_load(f) or {}
    env = ((doc.get("plugins") or {}).get("k8s") or {}).get("default-env-vars") or {}
    if isinstance(env, list):
        return len({k for item in env for k in item})
    return len({k.lower() if "." not in k else k for k in env})


def drop_lowered_copies(m):
    """Flyte's loader adds a lower-cased copy of a dotted mapping-form config key; spok does
    not. Drops from Flyte's map a dotted all-lower-case key that copies another key."""
    if not isinstance(m, dict):
        return
    for k in [k for k in m if "." in k and k == k.lower()]:
        if any(o != k and o.lower() == k and m[o] == m[k] for o in m):
            del m[k]


def drop_lowered_env(env):
    names = {e.get("name"): e for e in env}
    keep = []
    for e in env:
        n = e.get("name", "")
        if "." in n and n == n.lower() and any(
                o != n and o.lower() == n and names[o].get("value") == e.get("value") for o in names):
            continue
        keep.append(e)
    env[:] = keep


def canon(v):
    return json.dumps(v, sort_keys=True)


def normalize(app, flyte, env_defaults):
    md = app.get("metadata", {})
    if flyte:
        # spok has no FlyteWorkflow owner, no finalizer, and emits no Go zero-value artifacts.
        for k in ("ownerReferences", "finalizers", "creationTimestamp"):
            md.pop(k, None)
        if app.get("status") in ({}, None) or flyte:
            app.pop("status", None)
    spec = app.get("spec", {})
    if flyte:
        drop_lowered_copies(md.get("labels"))
        drop_lowered_copies(md.get("annotations"))
        drop_lowered_copies(spec.get("sparkConf"))
        for role in ("driver", "executor"):
            r = spec.get(role, {})
            for k in ("labels", "annotations", "nodeSelector"):
                drop_lowered_copies(r.get(k))
            drop_lowered_env(r.get("env", []))
    conf = spec.get("sparkConf", {})
    if START_TIME in conf:
        # wall clock at build time; checked to be a decimal number of milliseconds
        if not conf[START_TIME].isdigit():
            raise ValueError("%s is not a number: %r" % (START_TIME, conf[START_TIME]))
        conf[START_TIME] = "<build time>"
    for role in ("driver", "executor"):
        r = spec.get(role, {})
        # Go's set and map order: tolerations and default-env-vars are compared as sets
        if "tolerations" in r:
            r["tolerations"] = sorted(r["tolerations"], key=canon)
        env = r.get("env", [])
        names = [e.get("name") for e in env]
        if env_defaults and "FLYTE_INTERNAL_TASK_VERSION" in names:
            i = names.index("FLYTE_INTERNAL_TASK_VERSION") + 1
            env[i:i + env_defaults] = sorted(env[i:i + env_defaults], key=canon)
    return app


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = "%s.%s" % (path, k) if path else k
            if k not in a:
                out.append("%s: only in spok: %s" % (p, canon(b[k])))
            elif k not in b:
                out.append("%s: only in Flyte: %s" % (p, canon(a[k])))
            else:
                diff(a[k], b[k], p, out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            p = "%s[%d]" % (path, i)
            if i >= len(a):
                out.append("%s: only in spok: %s" % (p, canon(b[i])))
            elif i >= len(b):
                out.append("%s: only in Flyte: %s" % (p, canon(a[i])))
            else:
                diff(a[i], b[i], p, out)
    elif a != b or type(a) is not type(b):
        out.append("%s: Flyte %s, spok %s" % (path, canon(a), canon(b)))


def check_case(args, case):
    config = os.path.join(HERE, "configs", case["config"] + ".yaml")
    (rc_f, out_f, err_f), (rc_s, out_s, err_s) = build_both(args, case, config)
    problems = []
    if case.get("flyte_fails"):
        # a documented difference (DIFFERENCES.md, heading in the case): Flyte refuses, spok builds
        if rc_f == 0 or rc_s != 0:
            problems.append("expected Flyte to fail and spok to build (%s): flyteref rc=%d, spok "
                            "rc=%d (%s)" % (case["flyte_fails"], rc_f, rc_s, err_s.strip()[-300:]))
        return problems
    if rc_f != 0 or rc_s != 0:
        # both must refuse a task Flyte refuses, and only such tasks
        if rc_f == 0 or rc_s == 0 or not case.get("expect_error"):
            problems.append("flyteref rc=%d (%s), spok rc=%d (%s)"
                            % (rc_f, err_f.strip()[-300:], rc_s, err_s.strip()[-300:]))
        return problems
    for want in case.get("spok_stderr", []):
        if want not in err_s:
            problems.append("spok's stderr lacks %r (got %r)" % (want, err_s.strip()))
    envn = default_env_count(config)
    flyte = normalize(json.loads(out_f), True, envn)
    spok = normalize(json.loads(out_s), False, envn)
    diff(flyte, spok, "", problems)
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spok", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--package", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not os.access(args.ref, os.X_OK):
        print("conformance: SKIPPED: the Flyte reference %s is not built; run "
              "`scripts/setup conformance`" % args.ref)
        return 77
    with open(os.path.join(HERE, "cases.json")) as f:
        cases = [c for c in json.load(f) if args.only in c["name"]]
    failed = 0
    for case in cases:
        problems = check_case(args, case)
        if problems:
            failed += 1
            print("FAIL %s (task %s, config %s)" % (case["name"], case["task"], case["config"]))
            for p in problems[:40]:
                print("    " + p)
        elif args.verbose:
            print("ok   %s" % case["name"])
    print("conformance: %d of %d cases agree with flyteplugins" % (len(cases) - failed, len(cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
