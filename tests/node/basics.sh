#!/usr/bin/env bash
# tests/node/basics.sh - one pod on the real node, in spok's Spark image: runs as uid 185,
# resolves kubernetes.default.svc through cluster DNS (CoreDNS behind the kube-dns Service),
# reaches the API server through the `kubernetes` Service (kube-proxy's iptables rules) and
# verifies it with the mounted ServiceAccount CA, and its log is read back through the API
# server from the kubelet (pods/log). Then the pod is deleted and gone.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
NS=default
POD=node-basics-$$
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}

cat >"$TMP/pod.json" <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$POD","namespace":"$NS"},
 "spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":1,
  "containers":[{"name":"main","image":"$IMAGE","imagePullPolicy":"Never",
   "args":["python3","-c","import json, os, socket, ssl, urllib.request\nprint('uid', os.getuid())\nprint('dns', socket.gethostbyname('kubernetes.default.svc.cluster.local'))\nsa = '/var/run/secrets/kubernetes.io/serviceaccount/'\nctx = ssl.create_default_context(cafile=sa + 'ca.crt')\nreq = urllib.request.Request('https://kubernetes.default.svc/version', headers={'Authorization': 'Bearer ' + open(sa + 'token').read()})\nprint('apiserver', json.load(urllib.request.urlopen(req, context=ctx, timeout=20))['gitVersion'])\n"]}]}}
JSON
api POST "/api/v1/namespaces/$NS/pods" -H 'Content-Type: application/json' --data-binary "@$TMP/pod.json"
[ "$CODE" = 201 ] && ok "create pod $POD" || { not_ok "create pod (HTTP $CODE): $(head -c 500 "$TMP/body")"; finish; exit 1; }

phase() { api GET "/api/v1/namespaces/$NS/pods/$POD"; jfield "$TMP/body" status.phase; }
finished() { case "$(phase)" in Succeeded|Failed) return 0 ;; esac; return 1; }
wait_for 180 finished
ph=$(phase)
cp "$TMP/body" "$TMP/pod-final.json"
[ "$ph" = Succeeded ] && ok "pod ran to Succeeded on $(jfield "$TMP/pod-final.json" spec.nodeName)" ||
  { st=$(tr -d '\n' <"$TMP/pod-final.json" | grep -o '"containerStatuses".*' || true); not_ok "pod phase '$ph': ${st:0:800}"; }
ip=$(jfield "$TMP/pod-final.json" status.podIP)
case "$ip" in 10.244.0.*) ok "pod IP $ip on the node's pod network" ;; *) not_ok "pod IP '$ip' not in 10.244.0.0/24" ;; esac

api GET "/api/v1/namespaces/$NS/pods/$POD/log"
cp "$TMP/body" "$TMP/log"
[ "$CODE" = 200 ] && ok "pods/log through the kubelet" || not_ok "pods/log HTTP $CODE: $(head -c 400 "$TMP/log")"
grep -qx 'uid 185' "$TMP/log" && ok "runs as uid 185" || not_ok "uid: $(head -c 400 "$TMP/log")"
grep -qx 'dns 10.0.0.1' "$TMP/log" && ok "cluster DNS: kubernetes.default.svc.cluster.local is 10.0.0.1" ||
  not_ok "dns: $(head -c 400 "$TMP/log")"
grep -qx "apiserver ${SPOK_TEST_K8S_VERSION:-v1.35.4}" "$TMP/log" &&
  ok "API server reached through the kubernetes Service, TLS verified" || not_ok "apiserver: $(head -c 600 "$TMP/log")"

api DELETE "/api/v1/namespaces/$NS/pods/$POD"
gone() { api GET "/api/v1/namespaces/$NS/pods/$POD"; [ "$CODE" = 404 ]; }
wait_for 60 gone && ok "pod deleted" || not_ok "pod still there 60s after delete"

# The Flyte variant (scripts/build-image flyte), when built: flytekit and its Spark plugin
# import, and Flyte's default main file exists.
FLYTE_IMAGE=${SPOK_TEST_SPARK_FLYTE_IMAGE:-}
if [ -n "$FLYTE_IMAGE" ]; then
  POD=node-flyte-$$
  cat >"$TMP/pod.json" <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$POD","namespace":"$NS"},
 "spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":1,
  "containers":[{"name":"main","image":"$FLYTE_IMAGE","imagePullPolicy":"Never",
   "args":["python3","-c","import os, flytekit, flytekitplugins.spark\nprint('flytekit', flytekit.__version__, os.path.exists('/opt/venv/bin/entrypoint.py'))\n"]}]}}
JSON
  api POST "/api/v1/namespaces/$NS/pods" -H 'Content-Type: application/json' --data-binary "@$TMP/pod.json"
  wait_for 180 finished
  api GET "/api/v1/namespaces/$NS/pods/$POD/log"
  grep -q '^flytekit .* True$' "$TMP/body" && ok "flyte image: $(head -n1 "$TMP/body")" ||
    not_ok "flyte image: $(phase) $(head -c 400 "$TMP/body")"
  api DELETE "/api/v1/namespaces/$NS/pods/$POD"
  wait_for 60 gone || not_ok "flyte pod still there 60s after delete"
else
  echo "# no flyte image built (scripts/build-image flyte); its check skipped"
fi
finish
