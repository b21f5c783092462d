# scripts/k8s-node.sh - the real node of `scripts/k8s up --node DIR` (sourced by scripts/k8s).
#
# One node per machine: it owns the bridge spok0 with the pod network 10.244.0.0/24 (the host
# side is 10.244.0.1: API server, kubelet, CoreDNS listen there), the cgroup /spok-node in
# every hierarchy, and iptables chains named KUBE-*, CNI-* and SPOK-*. /run/spok-node.owner
# names the DIR that holds them; a second `up --node` with another DIR refuses while that
# node's kubelet runs. The node's data (containerd root, state and socket, kubelet root dir,
# pod logs, CNI IPAM) lives under /var/lib/spok-node (SPOK_NODE_ROOT), its configuration
# under DIR/node.
#
# Components: containerd (Debian; our config: CRI with restrict_oom_score_adj and our own pause
# image), the CNI bridge/host-local/portmap/loopback plugins (Debian), kubelet and kube-proxy
# (iptables mode) from .cache/k8s/bin, CoreDNS as a host process on 10.244.0.1:53 behind the
# kube-dns Service 10.0.0.10. Images come from scripts/build-image (.cache/image/images.txt)
# and are imported with `ctr images import`; nothing is pulled.
#
# Teardown (node_down) leaves no processes, mounts, veths, cgroups or iptables rules: it
# deletes every pod through the API and waits for the kubelet to tear them down, stops the
# processes, kills stray shims and container processes, removes our iptables chains, unmounts
# everything under DIR, removes the cgroups, the veths and the bridge, and restores the
# kernel settings the kubelet and CNI changed.

NODE_NAME=spok-node
NODE_BRIDGE=spok0
NODE_CIDR=10.244.0.0/24
NODE_IP=10.244.0.1
NODE_DNS_IP=10.0.0.10
NODE_CGROUP=spok-node
NODE_OWNER=/run/spok-node.owner
NODE_LOCK=/run/spok-node.lock
IMAGES="$ROOT/.cache/image/images.txt"
# The node's data (containerd root/state/sockets, kubelet root dir, pod logs, CNI IPAM): short
# and machine-wide like the node itself, so unix socket paths stay under their 107-byte limit
# whatever DIR is, and imported images survive from one DIR (or clone) to the next.
NR=${SPOK_NODE_ROOT:-/var/lib/spok-node}
CNI_BIN=${SPOK_CNI_BIN:-/usr/lib/cni}
# Kernel settings the kubelet (protectKernelDefaults: false), kube-proxy or CNI may change;
# saved at `up` and restored at `down`.
NODE_SYSCTLS=(net/ipv4/ip_forward net/ipv4/conf/all/route_localnet net/bridge/bridge-nf-call-iptables
  vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

ctr_() { ctr --address "$NR/containerd/containerd.sock" -n k8s.io "$@"; }

# image_ref NAME: the reference scripts/build-image recorded for spok.local/NAME:*.
image_ref() { [ -f "$IMAGES" ] && awk -v n="spok.local/$1:" 'index($1, n) == 1 { print $1; exit }' "$IMAGES"; }

# node_kubelet_alive DIR: that DIR's kubelet still runs.
node_kubelet_alive() {
  local pid
  pid=$(cat "$1/run/kubelet.pid" 2>/dev/null) || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  alive "$pid" && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$BIN/kubelet" ]
}

node_preflight() {
  [ "$(id -u)" -eq 0 ] || die "--node needs root (containerd, kubelet, iptables, bridge); CI runs as root"
  need_bin kubelet kube-proxy coredns kube-scheduler kube-controller-manager
  local c
  for c in containerd runc ctr iptables iptables-save iptables-restore ip nsenter; do
    command -v "$c" >/dev/null || die "$c not found; run scripts/setup apt (containerd, runc, iptables, containernetworking-plugins)"
  done
  for c in bridge host-local loopback portmap; do
    [ -x "$CNI_BIN/$c" ] || die "CNI plugin $CNI_BIN/$c missing; run scripts/setup apt (containernetworking-plugins)"
  done
  for c in cpu cpuacct cpuset memory pids; do
    [ -d "/sys/fs/cgroup/$c" ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
      die "cgroup controller $c is not mounted under /sys/fs/cgroup; the kubelet needs it"
  done
  image_ref pause >/dev/null || die "no pause image in $IMAGES; run scripts/build-image"
  case "$NR" in /*) ;; *) die "SPOK_NODE_ROOT must be an absolute path" ;; esac
  [ ${#NR} -le 40 ] || die "SPOK_NODE_ROOT $NR is too long for the node's unix sockets (keep it under 40 characters)"
}

# node_lock: one node `up`/`down` at a time machine-wide (held until this script exits).
node_lock() {
  exec 8>"$NODE_LOCK"
  flock -w "$TIMEOUT" 8 || die "another scripts/k8s up/down of a node holds $NODE_LOCK"
}

# node_claim: one live node per machine; what a dead one left behind is cleaned up first.
node_claim() {
  local other
  other=$(cat "$NODE_OWNER" 2>/dev/null || true)
  if [ -n "$other" ] && [ "$other" != "$D" ]; then
    if node_kubelet_alive "$other"; then
      die "a test node is already up in $other (one per machine: it owns $NODE_BRIDGE, $NODE_CIDR, cgroup /$NODE_CGROUP); run scripts/k8s down $other first"
    fi
    say "cleaning up what a dead node in $other left behind"
    local saved=$D
    D=$other; [ -d "$D" ] && node_down || node_cleanup_global; D=$saved
  fi
}

# ---------------------------------------------------------------- network

node_net_up() {
  local s
  mkdir -p "$D/node"
  if [ ! -f "$D/node/sysctl.saved" ]; then
    for s in "${NODE_SYSCTLS[@]}"; do
      [ -f "/proc/sys/$s" ] && echo "$s $(cat "/proc/sys/$s")"
    done >"$D/node/sysctl.saved"
  fi
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link add "$NODE_BRIDGE" type bridge ||
    die "creating bridge $NODE_BRIDGE failed (ip link add ... type bridge)"
  ip addr replace "$NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # Pods may talk to each other and to this host only: nothing from the pod network is
  # forwarded anywhere else, whatever ip_forward says.
  iptables -w -N SPOK-NODE-FORWARD 2>/dev/null || iptables -w -F SPOK-NODE-FORWARD
  iptables -w -A SPOK-NODE-FORWARD -s "$NODE_CIDR" ! -o "$NODE_BRIDGE" -j DROP
  iptables -w -A SPOK-NODE-FORWARD -d "$NODE_CIDR" ! -i "$NODE_BRIDGE" -j DROP
  iptables -w -C FORWARD -j SPOK-NODE-FORWARD 2>/dev/null || iptables -w -I FORWARD -j SPOK-NODE-FORWARD
}

# iptables_purge CMD: remove every chain named KUBE-*, CNI-*, SPOK-* and every rule that jumps
# to one, table by table, with one atomic *-restore per table. Rules of others stay.
iptables_purge() {
  local cmd=$1 table dump kept
  command -v "$cmd-save" >/dev/null || return 0
  for table in filter nat mangle raw; do
    dump=$("$cmd-save" -t "$table" 2>/dev/null) || continue
    grep -qE '^:(KUBE|CNI|SPOK)-|-[jg] (KUBE|CNI|SPOK)-' <<<"$dump" || continue
    kept=$(grep -vE '^:(KUBE|CNI|SPOK)-|^-A (KUBE|CNI|SPOK)-|-[jg] (KUBE|CNI|SPOK)-' <<<"$dump")
    "$cmd-restore" -w 5 <<<"$kept" || say "restoring $cmd table $table without our chains failed"
  done
}

node_net_down() {
  iptables_purge iptables
  iptables_purge ip6tables
  local l
  for l in $(ip -o link show master "$NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$l" 2>/dev/null || true
  done
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
}

node_sysctl_restore() {
  local s v
  [ -f "$D/node/sysctl.saved" ] || return 0
  while read -r s v; do
    [ -n "$s" ] && [ -f "/proc/sys/$s" ] && [ "$(cat "/proc/sys/$s")" != "$v" ] &&
      { echo "$v" >"/proc/sys/$s" 2>/dev/null || say "could not restore /proc/sys/$s to $v"; }
  done <"$D/node/sysctl.saved"
  rm -f "$D/node/sysctl.saved"
}

# ---------------------------------------------------------------- certificates

gen_node_pki() {
  local p="$D/pki"
  [ -f "$p/node.done" ] && return 0
  printf 'subjectAltName = IP:%s, DNS:%s\nextendedKeyUsage = serverAuth\nkeyUsage = digitalSignature, keyEncipherment\n' \
    "$NODE_IP" "$NODE_NAME" >"$p/kubelet-serving.ext"
  sign_cert "$p" kubelet-serving "/CN=$NODE_NAME" "$p/kubelet-serving.ext"
  # The Node authorizer knows a kubelet by this name and group.
  sign_cert "$p" kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "$p/client.ext"
  # The API server's identity towards the kubelet (logs, exec): allowed by the kubelet's webhook.
  sign_cert "$p" apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client" "$p/client.ext"
  chmod 600 "$p"/*.key
  touch "$p/node.done"
}

# The API server's serving certificate must also name NODE_IP (pods and the host dial it there).
node_serving_cert_ok() {
  local san
  san=$(openssl x509 -in "$D/pki/apiserver.crt" -noout -ext subjectAltName 2>/dev/null) || return 1
  grep -q "IP Address:$NODE_IP" <<<"$san"
}

# ---------------------------------------------------------------- containerd

start_containerd() {
  local c="$NR/containerd" sock
  mkdir -p "$c/root" "$c/state" "$c/runc" "$c/opt" "$NR/cni/net.d" "$NR/cni/ipam"
  sock="$c/containerd.sock"
  cat >"$c/config.toml" <<EOF
# Written by scripts/k8s up --node; one containerd of our own for the test node.
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(image_ref pause)"
  # root here may not lower oom_score_adj: without this every sandbox fails in runc
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$NR/cni/net.d"
    max_conf_num = 1
EOF
  cat >"$NR/cni/net.d/10-spok.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "spok-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_CIDR", "rangeStart": "10.244.0.10", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0", "gw": "$NODE_IP"}],
        "dataDir": "$NR/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  start containerd /usr/bin/containerd --config "$c/config.toml" --log-level warn
  wait_until containerd "containerd socket $sock" ctr --address "$sock" version
}

# import_images: every image scripts/build-image made, unless containerd already has that digest.
import_images() {
  local ref archive digest have
  while read -r ref archive digest; do
    archive="$ROOT/.cache/image/$archive"
    [ -f "$archive" ] || continue
    have=$(ctr_ images ls 2>/dev/null | awk -v r="$ref" '$1 == r { print $3 }')
    [ "$have" = "$digest" ] && continue
    say "importing $ref into the node's containerd"
    ctr_ images import "$archive" >"$D/logs/import.log" 2>&1 ||
      fail_with containerd "ctr images import $archive failed: $(tail -n 3 "$D/logs/import.log")"
    have=$(ctr_ images ls 2>/dev/null | awk -v r="$ref" '$1 == r { print $3 }')
    [ "$have" = "$digest" ] || fail_with containerd "after importing $archive containerd has no $ref at $digest"
  done <"$IMAGES"
}

# ---------------------------------------------------------------- kubelet, kube-proxy, CoreDNS

node_kubeconfig() { # node_kubeconfig FILE CERT KEY
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: spok-test
  cluster: {server: "$SERVER", certificate-authority: "$D/pki/ca.crt"}
users:
- name: u
  user: {client-certificate: "$2", client-key: "$3"}
contexts:
- name: c
  context: {cluster: spok-test, user: u}
current-context: c
EOF
  chmod 600 "$1"
}

# The kubelet's cgroup root must exist in every hierarchy; a new cpuset cgroup starts with no
# CPUs or memory nodes, so it gets its parent's.
node_cgroups_up() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h" ] || continue
    mkdir -p "$h$NODE_CGROUP" 2>/dev/null || continue
    if [ -f "${h}cpuset.cpus" ]; then
      cat "${h}cpuset.cpus" >"$h$NODE_CGROUP/cpuset.cpus" 2>/dev/null || true
      cat "${h}cpuset.mems" >"$h$NODE_CGROUP/cpuset.mems" 2>/dev/null || true
    fi
  done
}

# node_cgroups_down: kill whatever still runs in our cgroups, then remove them deepest first.
node_cgroups_down() {
  local d pid _
  for d in /sys/fs/cgroup/*/"$NODE_CGROUP"; do
    [ -d "$d" ] || continue
    while read -r pid; do
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    for d in /sys/fs/cgroup/*/"$NODE_CGROUP"; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    compgen -G "/sys/fs/cgroup/*/$NODE_CGROUP" >/dev/null || return 0
    sleep 0.5
  done
  say "cgroups left under /sys/fs/cgroup/*/$NODE_CGROUP: $(compgen -G "/sys/fs/cgroup/*/$NODE_CGROUP" | tr '\n' ' ')"
}

start_kubelet() {
  local k="$NR/kubelet" port hz
  mkdir -p "$k" "$NR/pod-logs"
  port=$(free_port); hz=$(free_port)
  node_kubeconfig "$D/node/kubelet.kubeconfig" "$D/pki/kubelet-client.crt" "$D/pki/kubelet-client.key"
  : >"$D/node/resolv.conf"   # pods get only the cluster DNS, no upstream servers or search domains
  cat >"$D/node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This VM mounts cgroups v1 (hybrid); kubelet >= 1.35 refuses that unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
failSwapOn: false
containerRuntimeEndpoint: unix://$NR/containerd/containerd.sock
imageServiceEndpoint: unix://$NR/containerd/containerd.sock
address: $NODE_IP
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $hz
tlsCertFile: $D/pki/kubelet-serving.crt
tlsPrivateKeyFile: $D/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $D/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$NODE_DNS_IP]
resolvConf: $D/node/resolv.conf
podLogsDir: $NR/pod-logs
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
maxPods: 40
# Images cannot be pulled again here, so the kubelet must never garbage-collect them, and a
# disk that is fuller than usual must not evict the test's pods.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
evictionPressureTransitionPeriod: 5s
volumePluginDir: $k/volume-plugins
logging: {format: text}
EOF
  node_cgroups_up
  start kubelet "$BIN/kubelet" --config "$D/node/kubelet.yaml" --kubeconfig "$D/node/kubelet.kubeconfig" \
    --root-dir "$k" --cert-dir "$k/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
  echo "$D" >"$NODE_OWNER"
  wait_until kubelet "node $NODE_NAME to be Ready" node_ready "$NODE_NAME"
  echo "SPOK_TEST_KUBELET_PID=$(cat "$D/run/kubelet.pid")" >>"$D/env.tmp"
}

start_kube_proxy() {
  local hz metrics
  hz=$(free_port); metrics=$(free_port)
  cat >"$D/node/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $D/kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $NODE_CIDR
nodePortAddresses: ["$NODE_IP/32"]
healthzBindAddress: 127.0.0.1:$hz
metricsBindAddress: 127.0.0.1:$metrics
iptables: {localhostNodePorts: false, syncPeriod: 30s, minSyncPeriod: 1s}
# 0 leaves the machine's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$BIN/kube-proxy" --config "$D/node/kube-proxy.yaml" --v=1
  wait_until kube-proxy "kube-proxy's rules for the kubernetes Service" kube_proxy_synced
  echo "SPOK_TEST_KUBE_PROXY_PID=$(cat "$D/run/kube-proxy.pid")" >>"$D/env.tmp"
}

kube_proxy_synced() {
  local rules
  rules=$(iptables -w -t nat -S KUBE-SERVICES 2>/dev/null) || return 1
  grep -q -- "-d 10.0.0.1/32" <<<"$rules"
}

start_coredns() {
  local ready
  ready=$(free_port)
  cat >"$D/node/Corefile" <<EOF
# CoreDNS of the test node: cluster.local from the API server, nothing forwarded upstream.
.:53 {
    bind $NODE_IP
    errors
    ready 127.0.0.1:$ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $D/kubeconfig admin
        pods insecure
        ttl 5
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
EOF
  start coredns "$BIN/coredns" -conf "$D/node/Corefile"
  wait_until coredns "CoreDNS ready on 127.0.0.1:$ready" curl -sf --max-time 2 "http://127.0.0.1:$ready/ready"
  # Pods find it at the kube-dns Service; its endpoint is this host on the bridge.
  cat >"$D/node/kube-dns-svc.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $NODE_DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
EOF
  cat >"$D/node/kube-dns-eps.yaml" <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: spok-test}
addressType: IPv4
endpoints:
- addresses: ["$NODE_IP"]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
EOF
  apply_yaml /api/v1/namespaces/kube-system/services/kube-dns "$D/node/kube-dns-svc.yaml" ||
    fail_with coredns "creating Service kube-dns failed"
  apply_yaml /apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices/kube-dns-host "$D/node/kube-dns-eps.yaml" ||
    fail_with coredns "creating the kube-dns EndpointSlice failed"
  echo "SPOK_TEST_COREDNS_PID=$(cat "$D/run/coredns.pid")" >>"$D/env.tmp"
}

node_up() {
  import_images
  gen_node_pki
  start_kubelet
  start_kube_proxy
  start_coredns
  # Cluster runs' event logs land here (a hostPath volume, spok.event-log in docs/CONFIG.md);
  # Spark's drivers write as uid 185, a history server on this host reads them. Kept by down.
  install -d -m 0755 -o 185 -g 185 "$NR/spark-events"
  # flytekit tasks' inputs and outputs (spok.flyte-data): spok writes here, pods mount it.
  install -d -m 0755 "$NR/flyte-data"
  cat >>"$D/env.tmp" <<EOF
SPOK_TEST_NODE=$NODE_NAME
SPOK_TEST_NODE_IP=$NODE_IP
SPOK_TEST_NODE_CONTAINERD=$NR/containerd/containerd.sock
SPOK_TEST_POD_LOGS=$NR/pod-logs
SPOK_TEST_EVENT_LOG_DIR=$NR/spark-events
SPOK_TEST_FLYTE_DATA_DIR=$NR/flyte-data
SPOK_TEST_SPARK_IMAGE=$(image_ref spark || true)
SPOK_TEST_SPARK_FLYTE_IMAGE=$(image_ref spark-flyte || true)
EOF
}

# ---------------------------------------------------------------- teardown

# node_drain: delete every pod through the API (1 s grace) and wait until the kubelet has torn
# them down: a pod object disappears only after its containers stopped, its sandbox's network
# was removed (CNI DEL) and its volumes were unmounted.
node_drain() {
  SERVER=${SERVER:-$(cat "$D/node/server" 2>/dev/null || true)}
  [ -n "$SERVER" ] || return 0
  readyz 2>/dev/null || return 0
  pid_of kubelet >/dev/null || return 0
  local ns body deadline=$((SECONDS + 90))
  body=$(api GET /api/v1/namespaces 2>/dev/null) || return 0
  for ns in $(grep -o '"metadata":{"name":"[^"]*"' <<<"$body" | sed 's/.*"name":"//; s/"$//'); do
    api DELETE "/api/v1/namespaces/$ns/pods?gracePeriodSeconds=1" >/dev/null 2>&1 || true
  done
  while [ $SECONDS -lt $deadline ]; do
    body=$(api GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE_NAME&limit=1" 2>/dev/null) || break
    grep -q '"items":\[\]' <<<"$body" && return 0
    sleep 0.5
  done
  say "pods still on $NODE_NAME after 90s; tearing down anyway"
}

# kill_pids_matching WORD: processes whose command line contains WORD (our containerd socket
# path, unique to DIR): containerd shims that outlived containerd.
kill_shims() {
  local p cmd sig pids=()
  for p in /proc/[0-9]*; do
    cmd=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    case "$cmd" in *containerd-shim*"$NR/containerd/"*) pids+=("${p#/proc/}") ;; esac
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  for sig in TERM KILL; do
    kill "-$sig" "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 30); do
      local any=0
      for p in "${pids[@]}"; do alive "$p" && any=1; done
      [ $any -eq 0 ] && return 0
      sleep 0.1
    done
  done
}

# node_unmount: every mount point under DIR and the node root, deepest first (pod volumes, the
# kubelet root dir bind mount, sandbox /dev/shm, network namespaces, overlay rootfs).
node_mounts() { awk -v d="$D/" -v r="$NR/" 'index($5, d) == 1 || index($5, r) == 1 { print $5 }' /proc/self/mountinfo; }
node_unmount() {
  local m
  for _ in 1 2 3; do
    local mounts
    mounts=$(node_mounts | sort -r)
    [ -n "$mounts" ] || return 0
    while read -r m; do
      m=$(printf '%b' "${m//\\/\\0}")   # mountinfo escapes spaces etc. as \ooo
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done <<<"$mounts"
  done
  say "mounts left: $(node_mounts | tr '\n' ' ')"
}

# Machine-wide leftovers of a node whose DIR is gone.
node_cleanup_global() {
  node_cgroups_down
  node_net_down
  rm -f "$NODE_OWNER"
}

node_down() {
  [ -d "$D/node" ] || return 0
  stop spark-operator
  node_drain
  stop coredns kube-proxy
  stop kubelet
  stop containerd
  kill_shims
  node_cgroups_down
  node_unmount
  node_net_down
  node_sysctl_restore
  # The kubelet links container logs into /var/log/containers; ours point into DIR.
  local l
  for l in /var/log/containers/*.log; do
    [ -L "$l" ] && case "$(readlink "$l")" in "$D"/*|"$NR"/*) rm -f "$l" ;; esac
  done
  [ "$(cat "$NODE_OWNER" 2>/dev/null)" = "$D" ] && rm -f "$NODE_OWNER"
  return 0
}

# node_leftovers: print what a node in DIR left on the machine; non-zero if anything.
node_leftovers() {
  local out="" p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case "$exe" in
      "$BIN"/kubelet|"$BIN"/kube-proxy|"$BIN"/coredns)
        grep -qF -e "$D/" -e "$NR/" "$p/cmdline" 2>/dev/null && out+="process ${p#/proc/} ($exe); " ;;
      /usr/bin/containerd*)
        grep -qF "$NR/containerd/" "$p/cmdline" 2>/dev/null && out+="process ${p#/proc/} ($exe); " ;;
    esac
  done
  [ -z "$(node_mounts)" ] || out+="mounts under $D or $NR; "
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && out+="bridge $NODE_BRIDGE; "
  compgen -G "/sys/fs/cgroup/*/$NODE_CGROUP" >/dev/null && out+="cgroups /sys/fs/cgroup/*/$NODE_CGROUP; "
  local cmd t dump
  for cmd in iptables ip6tables; do
    for t in filter nat mangle raw; do
      dump=$("$cmd-save" -t "$t" 2>/dev/null) || continue
      grep -qE '^:(KUBE|CNI|SPOK)-' <<<"$dump" && out+="$cmd chains in table $t; "
    done
  done
  [ -z "$out" ] && return 0
  say "left behind: $out"
  return 1
}

# node_check: can this machine run a node at all? Exit 77 (ctest's skip) with the reason if
# not; missing binaries or packages are NOT a skip (scripts/setup installs them).
node_check() {
  [ "$(id -u)" -eq 0 ] || { echo "node: not root; a real kubelet needs root (CI runs as root)"; exit 77; }
  [ -w /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
    { echo "node: no writable cgroup hierarchy under /sys/fs/cgroup"; exit 77; }
  if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add spok-probe0 type bridge 2>/dev/null ||
      { echo "node: the kernel refuses a bridge (ip link add type bridge); no pod network possible"; exit 77; }
    ip link del spok-probe0
  fi
  command -v iptables >/dev/null || return 0   # node_preflight names the missing package
  iptables -w -t nat -S >/dev/null 2>&1 ||
    { echo "node: iptables' nat table is unavailable (kernel without netfilter NAT); Services cannot work"; exit 77; }
}
