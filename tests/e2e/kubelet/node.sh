# shellcheck shell=bash
# A real Kubernetes node on this machine, for tests/e2e/kubelet.sh (sourced, not executed).
#
#   node_up      PKI, a private containerd (never the one dockerd uses), etcd, kube-apiserver,
#                kube-controller-manager, kube-scheduler, the kubelet, kube-proxy (iptables
#                mode) and CoreDNS (a host process on the node's bridge), all on loopback or on
#                the node's own bridge $NODE_BRIDGE ($NODE_IP/24, the pod network).
#   node_down    stops all of it and undoes every change to the host (trap it: it runs on
#                failure too, and is safe to run twice).
#
# Network: the pods have no default route and no masquerading (the bridge plugin runs with
# isGateway and ipMasq off), containerd pulls only through a proxy on 127.0.0.1:1 (refused),
# the cluster DNS has no upstream, and the service range is routed to the bridge: no packet
# of this suite leaves the machine. The node's IP is the bridge's own address.
#
# Host changes, each undone by node_down: the bridge and the service route; sysctls the
# kubelet sets (saved first, restored); iptables chains of kube-proxy (`kube-proxy
# --cleanup`, then any KUBE-* chain that did not exist before) and one FORWARD rule of ours;
# the kubelet's cgroup subtree /kubepods in every v1 hierarchy; /var/log/containers (the
# kubelet's hard-coded path: our links, and the directory if we created it); mounts under
# the scratch directory. The kubelet's own iptables chains (KUBE-FIREWALL, which drops
# non-loopback traffic to 127.0.0.0/8 and would break Docker's published localhost ports,
# KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) are never created: makeIPTablesUtilChains false.
#
# Needs: NODE_WORK (scratch directory), BIN (the binaries of tests/e2e/k8s/build.sh), the
# images tar $NODE_WORK/images.tar, and common.sh's helpers.

NODE_NAME=berth-e2e-node
NODE_BRIDGE=berth-node0
NODE_IP=10.244.77.1
POD_CIDR=10.244.77.0/24
SERVICE_CIDR=10.97.77.0/24
# The kubelet's pod cgroups (cgroupsPerQOS, default cgroupRoot), in every v1 hierarchy.
NODE_CGROUP_ROOT=/kubepods
# Ports on 127.0.0.1 (and the kubelet's on $NODE_IP), away from the other suites'.
P_ETCD=24379
P_ETCD_PEER=24380
P_APISERVER=26443
P_KCM=26257
P_SCHED=26259
P_KUBELET=26250
P_KUBELET_HEALTHZ=26248
P_PROXY_METRICS=26249
P_PROXY_HEALTHZ=26256
PAUSE_IMAGE=berth-e2e.local/pause:3.10
# The sysctls the kubelet (and kube-proxy) may change.
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.ipv4.conf.all.route_localnet)

NODE_PIDS=()
NODE_STARTED=0

node_log() { e2e_log "node: $*"; }

# node_start NAME CMD...: a daemon in its own session; pid in $NODE_WORK/run/NAME.pid.
node_start() {
  local n=$1
  shift
  setsid "$@" >"$NODE_WORK/logs/$n.log" 2>&1 </dev/null &
  echo $! >"$NODE_WORK/run/$n.pid"
  NODE_PIDS+=("$n")
}
# node_stop NAME: SIGTERM, up to 10 s, then SIGKILL (only the pid we recorded).
node_stop() {
  local f=$NODE_WORK/run/$1.pid p i
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for i in $(seq 1 40); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.25
    done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  fi
  rm -f "$f"
}
node_alive() { kill -0 "$(cat "$NODE_WORK/run/$1.pid" 2>/dev/null || echo 0)" 2>/dev/null; }

ctr_k8s() { ctr -a "$NODE_WORK/containerd/containerd.sock" -n k8s.io "$@"; }

# -- PKI ---------------------------------------------------------------------------------------
node_pki() {
  local p=$NODE_WORK/pki
  mkdir -p "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj /CN=berth-e2e-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj /CN=kube-apiserver 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:%s,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' \
      "$NODE_IP" "${SERVICE_CIDR%.0/24}.1" >san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 2 -extfile san.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    echo "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'),admin,admin,system:masters" >tokens.csv
  )
  cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: node
  cluster: {server: "https://127.0.0.1:$P_APISERVER", certificate-authority: $p/ca.crt}
users:
- name: admin
  user: {token: "$(cut -d, -f1 "$p/tokens.csv")"}
contexts:
- name: node
  context: {cluster: node, user: admin}
current-context: node
EOF
}

# -- host state saved before anything changes it ---------------------------------------------------
node_save_host() {
  local s
  for s in "${NODE_SYSCTLS[@]}"; do
    echo "$s=$(sysctl -n "$s" 2>/dev/null || echo '?')"
  done >"$NODE_WORK/run/sysctl.saved"
  iptables-save >"$NODE_WORK/run/iptables.before" 2>/dev/null || true
  [ -d /var/log/containers ] || touch "$NODE_WORK/run/varlogcontainers.created"
}

# -- the pod network ---------------------------------------------------------------------------
node_network() {
  ip link add "$NODE_BRIDGE" type bridge
  touch "$NODE_WORK/run/bridge.created"
  ip addr add "$NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # Service IPs that kube-proxy does not (yet) translate stay on the bridge, never the uplink.
  ip route add "$SERVICE_CIDR" dev "$NODE_BRIDGE"
  # Pod to pod across the bridge passes FORWARD when br_netfilter is loaded (Docker's policy
  # there is DROP): accept what stays on our bridge.
  iptables -I FORWARD 1 -i "$NODE_BRIDGE" -o "$NODE_BRIDGE" -m comment --comment berth-e2e-kubelet -j ACCEPT
  touch "$NODE_WORK/run/forward.rule"
  mkdir -p "$NODE_WORK/cni/net.d" "$NODE_WORK/cni/ipam"
  cat >"$NODE_WORK/cni/net.d/10-berth-e2e.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "berth-e2e",
  "plugins": [
    {
      "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": false, "ipMasq": false,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "${POD_CIDR%.0/24}.10"}]],
               "dataDir": "$NODE_WORK/cni/ipam"}
    }
  ]
}
EOF
}

# -- containerd --------------------------------------------------------------------------------
node_containerd() {
  local c=$NODE_WORK/containerd
  mkdir -p "$c/root" "$c/state" "$c/opt" "$c/runc"
  # restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, a negative oom_score_adj is
  # refused and every sandbox fails (`can't get final child's PID from pipe: EOF`).
  containerd config default | sed \
    -e "s|^root = .*|root = \"$c/root\"|" \
    -e "s|^state = .*|state = \"$c/state\"|" \
    -e "s|^  address = \"/run/containerd/containerd.sock\"|  address = \"$c/containerd.sock\"|" \
    -e "s|sandbox_image = .*|sandbox_image = \"$PAUSE_IMAGE\"|" \
    -e "s|bin_dir = \"/opt/cni/bin\"|bin_dir = \"/usr/lib/cni\"|" \
    -e "s|conf_dir = \"/etc/cni/net.d\"|conf_dir = \"$NODE_WORK/cni/net.d\"|" \
    -e "s|path = \"/opt/containerd\"|path = \"$c/opt\"|" \
    -e "s|SystemdCgroup = .*|SystemdCgroup = false|" \
    -e "s|^\( *\)Root = \"\"|\1Root = \"$c/runc\"|" \
    -e "s|netns_mounts_under_state_dir = false|netns_mounts_under_state_dir = true|" \
    -e "s|restrict_oom_score_adj = false|restrict_oom_score_adj = true|" >"$c/config.toml"
  grep -q "address = \"$c/containerd.sock\"" "$c/config.toml" || e2e_die "containerd config: socket not set"
  grep -q 'restrict_oom_score_adj = true' "$c/config.toml" || e2e_die "containerd config: restrict_oom_score_adj not set"
  # Any registry pull goes to a proxy that refuses: the images are imported, never pulled.
  node_start containerd env HTTP_PROXY=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 NO_PROXY= \
    containerd --config "$c/config.toml" --log-level warn
  wait_until 20 0.1 ctr -a "$c/containerd.sock" version || e2e_die "containerd did not start ($(tail -n 5 "$NODE_WORK/logs/containerd.log"))"
  ctr_k8s images import "$NODE_WORK/images.tar" >/dev/null || e2e_die "ctr images import failed"
}

# -- control plane -------------------------------------------------------------------------------
node_control_plane() {
  local p=$NODE_WORK/pki
  node_start etcd "$BIN/etcd" --name node --data-dir "$NODE_WORK/etcd" \
    --listen-client-urls "http://127.0.0.1:$P_ETCD" --advertise-client-urls "http://127.0.0.1:$P_ETCD" \
    --listen-peer-urls "http://127.0.0.1:$P_ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$P_ETCD_PEER" \
    --initial-cluster "node=http://127.0.0.1:$P_ETCD_PEER" --unsafe-no-fsync
  node_start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$P_ETCD" \
    --bind-address=127.0.0.1 --secure-port=$P_APISERVER --advertise-address=$NODE_IP \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" --token-auth-file="$p/tokens.csv" \
    --authorization-mode=AlwaysAllow --allow-privileged=false \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$p/sa.pub" \
    --service-account-signing-key-file="$p/sa.key" --service-cluster-ip-range=$SERVICE_CIDR \
    --kubelet-preferred-address-types=InternalIP
  wait_until 90 0.5 "$KUBECTL" get --raw /readyz || e2e_die "kube-apiserver not ready ($(tail -n 5 "$NODE_WORK/logs/kube-apiserver.log"))"
  node_start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$KUBECONFIG" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port=$P_KCM --leader-elect=false \
    --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
    --use-service-account-credentials=false
  node_start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$KUBECONFIG" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port=$P_SCHED --leader-elect=false
  wait_until 60 0.5 "$KUBECTL" -n default get serviceaccount default || e2e_die "no default ServiceAccount"
}

# -- kubelet -----------------------------------------------------------------------------------
node_kubelet() {
  mkdir -p "$NODE_WORK/kubelet" "$NODE_WORK/pod-logs"
  : >"$NODE_WORK/resolv.conf" # pods get the cluster DNS only, never the host's resolvers
  cat >"$NODE_WORK/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host is on cgroup v1: from 1.35 the kubelet refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
failSwapOn: false
containerRuntimeEndpoint: unix://$NODE_WORK/containerd/containerd.sock
# No KUBE-FIREWALL / KUBE-KUBELET-CANARY / KUBE-IPTABLES-HINT chains on the shared host.
makeIPTablesUtilChains: false
address: $NODE_IP
port: $P_KUBELET
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $P_KUBELET_HEALTHZ
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
clusterDNS: ["$NODE_IP"]
clusterDomain: cluster.local
resolvConf: $NODE_WORK/resolv.conf
podLogsDir: $NODE_WORK/pod-logs
volumePluginDir: $NODE_WORK/kubelet/volume-plugins
staticPodPath: ""
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
serializeImagePulls: false
EOF
  local t0
  t0=$(now_ms)
  node_start kubelet "$BIN/kubelet" --config="$NODE_WORK/kubelet.yaml" --kubeconfig="$KUBECONFIG" \
    --root-dir="$NODE_WORK/kubelet" --cert-dir="$NODE_WORK/kubelet/pki" \
    --hostname-override=$NODE_NAME --node-ip=$NODE_IP --v=3
  node_ready() {
    node_alive kubelet || return 2
    [ "$("$KUBECTL" get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
  }
  if ! wait_until 120 0.5 node_ready; then
    grep -E '^E|command failed' "$NODE_WORK/logs/kubelet.log" | tail -n 10 >&2
    e2e_die "the node did not become Ready within 120 s"
  fi
  NODE_READY_MS=$(($(now_ms) - t0))
}

# -- kube-proxy and the cluster DNS ----------------------------------------------------------------
node_proxy_dns() {
  cat >"$NODE_WORK/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $KUBECONFIG}
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$P_PROXY_HEALTHZ
metricsBindAddress: 127.0.0.1:$P_PROXY_METRICS
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$NODE_IP/32"]
iptables:
  # No route_localnet sysctl, no NodePorts on 127.0.0.1.
  localhostNodePorts: false
# Leave the host's conntrack table settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  node_start kube-proxy "$BIN/kube-proxy" --config="$NODE_WORK/kube-proxy.yaml" --v=2
  wait_until 60 0.5 curl -sf "http://127.0.0.1:$P_PROXY_HEALTHZ/healthz" ||
    e2e_die "kube-proxy not healthy ($(tail -n 5 "$NODE_WORK/logs/kube-proxy.log"))"
  cat >"$NODE_WORK/Corefile" <<EOF
cluster.local:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local {
        kubeconfig $KUBECONFIG node
    }
}
EOF
  node_start coredns "$BIN/coredns" -conf "$NODE_WORK/Corefile"
  dns_up() { node_alive coredns && grep -q 'CoreDNS-' "$NODE_WORK/logs/coredns.log"; }
  wait_until 30 0.3 dns_up || e2e_die "coredns did not start ($(tail -n 5 "$NODE_WORK/logs/coredns.log"))"
}

node_up() {
  mkdir -p "$NODE_WORK/run" "$NODE_WORK/logs"
  export KUBECONFIG=$NODE_WORK/kubeconfig
  NODE_STARTED=1
  node_save_host
  node_pki
  node_network
  node_containerd
  node_control_plane
  node_kubelet
  node_proxy_dns
}

# -- teardown ------------------------------------------------------------------------------------
node_down() {
  [ "$NODE_STARTED" = 1 ] || return 0
  NODE_STARTED=0
  # Best effort, every step: a step that finds nothing to undo must not end the teardown.
  set +e +o pipefail
  local n ns f p
  # Let the kubelet stop the pods itself (CNI teardown, volume unmounts), bounded.
  if node_alive kubelet && node_alive kube-apiserver; then
    for ns in $("$KUBECTL" get ns -o name 2>/dev/null | sed 's|namespace/||' | grep -v -E '^(default|kube-system|kube-public|kube-node-lease)$'); do
      "$KUBECTL" delete ns "$ns" --wait=false >/dev/null 2>&1 || true
    done
    "$KUBECTL" delete pods -A --all --grace-period=1 --wait=false >/dev/null 2>&1 || true
    no_pods() { [ "$("$KUBECTL" get pods -A --no-headers 2>/dev/null | wc -l)" -eq 0 ]; }
    wait_until 60 1 no_pods || node_log "pods still listed after 60 s; stopping anyway"
    sleep 2
  fi
  for n in coredns kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
    node_stop "$n"
  done
  # kube-proxy's own cleanup of every rule it made.
  [ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup >"$NODE_WORK/logs/kube-proxy-cleanup.log" 2>&1 || true
  # Containers the kubelet left: kill by their recorded pids, then the shims.
  local sock=$NODE_WORK/containerd/containerd.sock
  if [ -S "$sock" ]; then
    for n in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s KILL "$n" >/dev/null 2>&1 || true; done
    sleep 1
    for n in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks rm -f "$n" >/dev/null 2>&1 || true; done
  fi
  node_stop containerd
  for f in "$NODE_WORK"/containerd/state/io.containerd.runtime.v2.task/k8s.io/*/shim.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  # Mounts under the scratch directory, deepest first.
  for p in $(awk -v k="$NODE_WORK/" 'index($2, k) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || true
  done
  # The pod network.
  if [ -f "$NODE_WORK/run/forward.rule" ]; then
    iptables -D FORWARD -i "$NODE_BRIDGE" -o "$NODE_BRIDGE" -m comment --comment berth-e2e-kubelet -j ACCEPT 2>/dev/null || true
    rm -f "$NODE_WORK/run/forward.rule"
  fi
  if [ -f "$NODE_WORK/run/bridge.created" ]; then
    ip route del "$SERVICE_CIDR" dev "$NODE_BRIDGE" 2>/dev/null || true
    ip link del "$NODE_BRIDGE" 2>/dev/null || true
    rm -f "$NODE_WORK/run/bridge.created"
  fi
  # veths of pods the kubelet could not tear down go with their network namespaces (mounts).
  # iptables chains named KUBE-* that were not there before (kube-proxy --cleanup took its own).
  if [ -f "$NODE_WORK/run/iptables.before" ]; then
    local tbl ch rule
    for tbl in filter nat mangle; do
      for ch in $(iptables -t "$tbl" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do
        grep -q -- "^:$ch " "$NODE_WORK/run/iptables.before" && continue
        iptables -t "$tbl" -S | grep -E -- "-j $ch( |\$)" | grep -v "^-A $ch " | sed 's/^-A/-D/' |
          while read -r rule; do eval iptables -t "$tbl" "$rule" 2>/dev/null || true; done
        iptables -t "$tbl" -F "$ch" 2>/dev/null && iptables -t "$tbl" -X "$ch" 2>/dev/null || true
      done
    done
  fi
  # cgroups of the pods (every v1 hierarchy), deepest first.
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h${NODE_CGROUP_ROOT#/}" ] && find "$h${NODE_CGROUP_ROOT#/}" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  # /var/log/containers: our links; the directory when we created it.
  for f in /var/log/containers/*; do
    [ -L "$f" ] && readlink "$f" | grep -q "^$NODE_WORK/" && rm -f "$f"
  done
  if [ -f "$NODE_WORK/run/varlogcontainers.created" ]; then
    rmdir /var/log/containers 2>/dev/null || true
  fi
  # Sysctls back to what they were (ip_forward stays on while dockerd runs: it needs it).
  if [ -f "$NODE_WORK/run/sysctl.saved" ]; then
    local k v
    while IFS='=' read -r k v; do
      [ "$v" != '?' ] || continue
      if [ "$k" = net.ipv4.ip_forward ] && [ "$(sysctl -n "$k")" = 1 ] && pidof dockerd >/dev/null; then continue; fi
      [ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || sysctl -qw "$k=$v" 2>/dev/null || true
    done <"$NODE_WORK/run/sysctl.saved"
  fi
}

# node_leftovers: prints whatever node_down could not undo (empty when the host is clean).
node_leftovers() {
  local h tbl ch k v
  set +e +o pipefail
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && echo "bridge $NODE_BRIDGE"
  ip route show "$SERVICE_CIDR" 2>/dev/null | grep -q . && echo "route $SERVICE_CIDR"
  for h in /sys/fs/cgroup/*/; do [ -d "$h${NODE_CGROUP_ROOT#/}" ] && echo "cgroup $h${NODE_CGROUP_ROOT#/}"; done
  awk -v k="$NODE_WORK/" 'index($2, k) == 1 {print "mount " $2}' /proc/self/mounts
  for tbl in filter nat mangle; do
    for ch in $(iptables -t "$tbl" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do
      grep -q -- "^:$ch " "$NODE_WORK/run/iptables.before" 2>/dev/null || echo "iptables $tbl/$ch"
    done
  done
  iptables -S FORWARD 2>/dev/null | grep -q berth-e2e-kubelet && echo "iptables FORWARD rule"
  [ -f "$NODE_WORK/run/varlogcontainers.created" ] && [ -d /var/log/containers ] && echo "/var/log/containers"
  if [ -f "$NODE_WORK/run/sysctl.saved" ]; then
    while IFS='=' read -r k v; do
      [ "$v" != '?' ] || continue
      [ "$k" = net.ipv4.ip_forward ] && pidof dockerd >/dev/null && continue
      [ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || echo "sysctl $k=$(sysctl -n "$k") (was $v)"
    done <"$NODE_WORK/run/sysctl.saved"
  fi
  return 0
}
