#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for the end-to-end
# suite (test/e2e) and the README's run command. Debian packages (containerd,
# runc, CNI plugins, iptables, conntrack) plus binaries built from Go modules
# (hack/build-envtest-bins.sh cluster). No Docker engine, no registry: images
# are tarballs from tools/images, imported with ctr.
#
#   hack/cluster/cluster.sh up      bring the cluster up (tears down first)
#   hack/cluster/cluster.sh down    stop it and put the host back as it was
#   hack/cluster/cluster.sh env     print KUBECONFIG=... for a shell
#   hack/cluster/cluster.sh running exit 0 if every process `up` started still runs
#
# Networking (all of it on this host, nothing routed out):
#   pods 198.18.0.0/24 on the bridge mcpe2e0 (host side 198.18.0.1),
#   services 198.19.0.0/24 by kube-proxy in iptables mode. The benchmarking
#   range 198.18.0.0/15 is outside every private range other tenants use.
#   Pods reach the apiserver through the `kubernetes` Service: the apiserver
#   advertises the bridge address, so its own endpoint reconciler publishes
#   198.18.0.1:16443 and kube-proxy DNATs 198.19.0.1:443 there. It listens on
#   all addresses because it must answer on loopback (host clients) and on
#   the bridge (pods); the MCP-E2E-IN chain refuses it on every other
#   interface. No masquerade for pod traffic (the CNI bridge has ipMasq off) and
#   The apiserver reaches the kubelet (logs, exec) at the node's InternalIP,
#   the bridge address, never by its name: a name would need a DNS lookup.
#   MCP-E2E-FWD drops anything from the pod range that would leave through any
#   interface other than the bridge.
# Host state: every process is started here and stopped by PID; sysctls the
# kubelet changes, ip_forward, and which shared directories existed are
# recorded in $RUN/host-state before anything changes, and `down` restores
# them even after a failed `up`.
set -euo pipefail
# A closed output (Ctrl-C took the reader too) must not kill a teardown.
trap '' PIPE

root=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${CLUSTER_DIR:-$root/bin/cluster}
NODE=mcp-e2e
BRIDGE=mcpe2e0
POD_CIDR=198.18.0.0/24
POD_RANGE=198.18.0.0/15
BRIDGE_IP=198.18.0.1
SERVICE_CIDR=198.19.0.0/24
API_PORT=16443
ETCD_PORT=12379
ETCD_PEER_PORT=12380
SOCK=$RUN/containerd/containerd.sock
# Sysctls the kubelet (and kube-proxy) may change; restored on `down`.
SYSCTLS=(kernel/panic kernel/panic_on_oops vm/overcommit_memory vm/panic_on_oom
	kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward
	net/ipv4/conf/all/route_localnet net/bridge/bridge-nf-call-iptables)
# Shared host directories that containerd and the kubelet write into
# regardless of their configured roots; removed on `down` if we created them.
SHARED_DIRS=(/var/run/netns /var/lib/cni /run/containerd /var/log/containers /var/log/pods
	/var/lib/kubelet) # device-plugins socket: a fixed path in the kubelet

log() { printf '%s cluster: %s\n' "$(date +%T)" "$*" >&2 || true; }
die() { log "error: $*"; exit 1; }

preflight() {
	[[ $(id -u) == 0 ]] || die "must run as root (it creates a bridge, netns, cgroups and iptables rules)"
	[[ -d /sys/fs/cgroup/memory || -f /sys/fs/cgroup/cgroup.controllers ]] || die "/sys/fs/cgroup is not mounted"
	local p
	for p in containerd containerd-shim-runc-v2 runc ctr iptables ip6tables conntrack ip openssl; do
		command -v "$p" >/dev/null || die "$p missing: run 'make cluster-deps' (apt-get install containerd runc containernetworking-plugins iptables conntrack)"
	done
	[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || die "CNI plugins missing in /usr/lib/cni (containernetworking-plugins)"
	[[ -d /sys/fs/cgroup/memory/kubepods ]] && die "/sys/fs/cgroup/memory/kubepods exists: another kubelet runs on this host"
	ip link show "$BRIDGE" >/dev/null 2>&1 && die "bridge $BRIDGE exists: a cluster is up (run 'down' first)"
	for p in $API_PORT $ETCD_PORT $ETCD_PEER_PORT 10248 10249 10256; do
		[[ -z $(ss -Hltn "sport = :$p") ]] || die "port $p is taken"
	done
	return 0
}

record_host_state() {
	mkdir -p "$RUN"
	local f=$RUN/host-state s d
	: >"$f.tmp"
	for s in "${SYSCTLS[@]}"; do
		[[ -e /proc/sys/$s ]] && echo "sysctl $s $(cat "/proc/sys/$s")" >>"$f.tmp"
	done
	for d in "${SHARED_DIRS[@]}"; do
		[[ -e $d ]] || echo "created $d" >>"$f.tmp"
	done
	# Only the netns that appear after this point are ours.
	find /var/run/netns -mindepth 1 -maxdepth 1 -printf 'netns %f\n' 2>/dev/null | sort >>"$f.tmp" || true
	local t
	for t in filter nat mangle raw; do
		iptables-save -t "$t" 2>/dev/null | awk -v t="$t" '/^:/{print "chain4", t, substr($1, 2)}' >>"$f.tmp"
		ip6tables-save -t "$t" 2>/dev/null | awk -v t="$t" '/^:/{print "chain6", t, substr($1, 2)}' >>"$f.tmp"
	done
	# A reboot resets processes, links, chains and sysctls: `down` after
	# one must not act on this record (PIDs and chains may be others' now).
	echo "boot $(cat /proc/sys/kernel/random/boot_id)" >>"$f.tmp"
	mv "$f.tmp" "$f"
}

# --- PKI: one CA signs every serving and client certificate. ----------------
cert() { # name CN O sans(ext string or "")
	local name=$1 cn=$2 o=$3 sans=$4 dir=$RUN/pki
	openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" \
		-subj "/CN=$cn${o:+/O=$o}" 2>/dev/null
	local ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${sans:+serverAuth,}clientAuth${sans:+
subjectAltName=$sans}"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 7 -sha256 -extfile <(echo "$ext") -out "$dir/$name.crt" 2>/dev/null
	rm "$dir/$name.csr"
}

kubeconfig() { # name cert
	cat >"$RUN/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NODE
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$RUN/pki/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$RUN/pki/$2.crt", client-key: "$RUN/pki/$2.key"}
contexts:
- name: $NODE
  context: {cluster: $NODE, user: $2}
current-context: $NODE
EOF
}

pki() {
	local dir=$RUN/pki
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" \
		-days 7 -subj "/CN=$NODE-ca" 2>/dev/null
	cert apiserver kube-apiserver "" "IP:127.0.0.1,IP:$BRIDGE_IP,IP:${SERVICE_CIDR%.0/24}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert kubelet-serving "system:node:$NODE" system:nodes "IP:$BRIDGE_IP,DNS:$NODE"
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters ""
	cert admin admin system:masters ""
	cert kubelet "system:node:$NODE" system:nodes ""
	cert controller-manager system:kube-controller-manager "" ""
	cert scheduler system:kube-scheduler "" ""
	cert proxy system:kube-proxy "" ""
	openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
	openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
	kubeconfig admin admin
	kubeconfig kubelet kubelet
	kubeconfig controller-manager controller-manager
	kubeconfig scheduler scheduler
	kubeconfig proxy proxy
}

# start name cmd...: runs it in its own process group, PID in $RUN/pids.
start() {
	local name=$1; shift
	mkdir -p "$RUN/pids" "$RUN/logs"
	setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
	# With its start time: `down` signals the PID only while it is still
	# this process (the start time survives exec, not PID reuse).
	echo "$! $(starttime $!)" >"$RUN/pids/$name"
}

# starttime pid: field 22 of /proc/PID/stat, counted after the command
# name (which may hold spaces).
starttime() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) && awk '{print $20}' <<<"${st##*) }"; }

wait_for() { # what seconds cmd...
	local what=$1 secs=$2 i; shift 2
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "$what not ready after ${secs}s (logs in $RUN/logs)"
}

network() {
	# The bridge exists before the kubelet starts: its address is the node IP.
	ip link add "$BRIDGE" type bridge
	ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	# Service IPs go to the bridge, never to the default route, even before
	# kube-proxy has written its DNAT rules.
	ip route add "$SERVICE_CIDR" dev "$BRIDGE"
	iptables -N MCP-E2E-FWD
	iptables -A MCP-E2E-FWD -s "$POD_RANGE" ! -o "$BRIDGE" -j DROP
	iptables -A MCP-E2E-FWD -d "$POD_RANGE" ! -i "$BRIDGE" -j DROP
	iptables -I FORWARD -j MCP-E2E-FWD
	iptables -N MCP-E2E-IN
	iptables -A MCP-E2E-IN -i lo -j RETURN
	iptables -A MCP-E2E-IN -i "$BRIDGE" -j RETURN
	iptables -A MCP-E2E-IN -d "$POD_RANGE" -j DROP
	iptables -A MCP-E2E-IN -p tcp -m multiport --dports "$API_PORT,$ETCD_PORT,$ETCD_PEER_PORT,10250" -j DROP
	iptables -I INPUT -j MCP-E2E-IN
	iptables -N MCP-E2E-OUT
	# The bridge address is local: the apiserver reaches the kubelet there via lo.
	iptables -A MCP-E2E-OUT -o lo -j RETURN
	iptables -A MCP-E2E-OUT -d "$POD_RANGE" ! -o "$BRIDGE" -j DROP
	iptables -I OUTPUT -j MCP-E2E-OUT
	# The last word on anything leaving the host, before any SNAT and where
	# kube-proxy inserts nothing ahead of it (it does in FORWARD): a packet
	# from or to the pod range leaves by the bridge or loopback, or not at all.
	iptables -t mangle -N MCP-E2E-EGRESS
	iptables -t mangle -A MCP-E2E-EGRESS -o lo -j RETURN
	iptables -t mangle -A MCP-E2E-EGRESS -o "$BRIDGE" -j RETURN
	iptables -t mangle -A MCP-E2E-EGRESS -s "$POD_RANGE" -j DROP
	iptables -t mangle -A MCP-E2E-EGRESS -d "$POD_RANGE" -j DROP
	iptables -t mangle -I POSTROUTING -j MCP-E2E-EGRESS
	# Service traffic between pods on one bridge is DNATed by the host:
	# forwarding on, bridged packets through iptables.
	echo 1 >/proc/sys/net/ipv4/ip_forward
	[[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null || true
	echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
	mkdir -p "$RUN/cni/net.d" "$RUN/cni/ipam"
	cat >"$RUN/cni/net.d/10-mcp-e2e.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "mcp-e2e", "plugins": [{
  "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
  "ipam": {"type": "host-local", "dataDir": "$RUN/cni/ipam",
           "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
           "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
}

containerd_up() {
	mkdir -p "$RUN/containerd"
	cat >"$RUN/containerd/config.toml" <<EOF
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
# Plugins that would write outside the run directory or are not needed.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/mcp-e2e/pause:v1"
  # root here lacks CAP_SYS_RESOURCE; without this every sandbox fails with
  # runc's "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  # Pod network namespaces under the run dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUN/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
EOF
	start containerd containerd --config "$RUN/containerd/config.toml"
	wait_for containerd 30 ctr --address "$SOCK" version
	local img
	for img in "$root"/bin/images/*.tar; do
		ctr --address "$SOCK" -n k8s.io images import "$img" >/dev/null \
			|| die "importing $img"
	done
}

control_plane_up() {
	local bins=$1
	start etcd "$bins/etcd" --data-dir "$RUN/etcd" --name "$NODE" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "$NODE=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
	local p=$RUN/pki
	start kube-apiserver "$bins/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 0.0.0.0 --secure-port "$API_PORT" --advertise-address "$BRIDGE_IP" \
		--service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
		--client-ca-file "$p/ca.crt" --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
		--kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$p/ca.crt" --kubelet-preferred-address-types InternalIP \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$p/sa.pub" \
		--service-account-signing-key-file "$p/sa.key" --enable-admission-plugins NodeRestriction \
		--enable-aggregator-routing=true --allow-privileged=true --profiling=false
	wait_for kube-apiserver 60 "$bins/kubectl" --kubeconfig "$RUN/admin.kubeconfig" get --raw /readyz
	start kube-controller-manager "$bins/kube-controller-manager" --kubeconfig "$RUN/controller-manager.kubeconfig" \
		--controllers '*,-nodeipam' --leader-elect=false --secure-port 0 --use-service-account-credentials \
		--service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
		--cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key"
	start kube-scheduler "$bins/kube-scheduler" --kubeconfig "$RUN/scheduler.kubeconfig" \
		--leader-elect=false --secure-port 0
}

node_up() {
	local bins=$1 p=$RUN/pki
	mkdir -p "$RUN/kubelet" "$RUN/pod-logs"
	cat >"$RUN/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $p/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $p/kubelet-serving.crt
tlsPrivateKeyFile: $p/kubelet-serving.key
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# No DNS server runs and no query may leave the host: pods' resolv.conf
# names their own loopback (a lookup fails at once) and the host's
# resolv.conf is not copied. Without clusterDNS every pod would get a
# MissingClusterDNS warning event.
clusterDNS: [127.0.0.1]
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: $RUN/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
serializeImagePulls: false
EOF
	start kubelet "$bins/kubelet" --config "$RUN/kubelet/config.yaml" --kubeconfig "$RUN/kubelet.kubeconfig" \
		--root-dir "$RUN/kubelet/root" --cert-dir "$RUN/kubelet/pki" --hostname-override "$NODE" --node-ip "$BRIDGE_IP"
	cat >"$RUN/proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $RUN/proxy.kubeconfig}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$BRIDGE_IP/32"]
# Leave the host's conntrack sysctls alone and no route_localnet.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
	start kube-proxy "$bins/kube-proxy" --config "$RUN/proxy.yaml"
	wait_for "node $NODE" 60 "$bins/kubectl" --kubeconfig "$RUN/admin.kubeconfig" wait --for=condition=Ready "node/$NODE" --timeout=1s
}

up() {
	local bins t0=$SECONDS
	bins=$("$root/hack/build-envtest-bins.sh" cluster)
	ls "$root"/bin/images/*.tar >/dev/null 2>&1 || die "no image tarballs in bin/images: run 'make cluster-images'"
	# A previous run that was not torn down (killed test, crash) is first.
	[[ -e $RUN/host-state ]] && down
	preflight
	rm -rf "$RUN"
	record_host_state
	# Whatever fails from here on (die exits too), the host is put back.
	trap 'rc=$?; if ((rc)); then log "bring-up failed, tearing down"; down; fi' EXIT
	# A signal becomes an exit, so the EXIT trap above runs for it too.
	trap 'exit 143' TERM INT HUP
	pki
	network
	containerd_up
	control_plane_up "$bins"
	node_up "$bins"
	trap - EXIT TERM INT HUP
	log "up in $((SECONDS - t0))s: export KUBECONFIG=$RUN/admin.kubeconfig"
}

# --- teardown: every step tolerates what is already gone. --------------------
# alive: the process exists and is not a zombie waiting for init to reap it.
alive() { [[ -e /proc/$1 && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# ours name: the process recorded for name runs and is still that process
# (not a PID reused since), and its PID is in $pid.
ours() {
	local started
	read -r pid started <"$RUN/pids/$1" 2>/dev/null || return 1
	alive "$pid" && [[ $(starttime "$pid") == "$started" ]]
}

# running: the cluster `up` made is all there (its processes and bridge).
running() {
	[[ -f $RUN/host-state ]] && ip link show "$BRIDGE" >/dev/null 2>&1 || return 1
	local c pid
	for c in containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
		ours "$c" || return 1
	done
}

stop() { # name: SIGTERM its process group, SIGKILL after 10 s
	local f=$RUN/pids/$1 pid i
	[[ -f $f ]] || return 0
	if ours "$1"; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
		alive "$pid" && kill -KILL -- "-$pid" 2>/dev/null
	fi
	rm -f "$f"
}

down() {
	set +e
	local t0=$SECONDS state=$RUN/host-state i
	[[ -f $state ]] || { log "nothing to tear down ($state missing)"; return 0; }
	if ! grep -qx "boot $(cat /proc/sys/kernel/random/boot_id)" "$state"; then
		log "the host rebooted since up: removing $RUN only"
		find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null
		set -e
		return 0
	fi
	stop kube-controller-manager
	stop kube-scheduler
	stop kubelet
	# Pods: kill every task in containerd's k8s.io namespace. Their shims are
	# our processes too (they carry our socket path in their arguments).
	if [[ -S $SOCK ]]; then
		local c
		for c in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1
		done
		sleep 0.5
		for c in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr --address "$SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1
		done
	fi
	stop containerd
	local pid
	while read -r pid; do
		kill -KILL "$pid" 2>/dev/null
	done < <(grep -lz -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3)
	stop kube-proxy
	stop kube-apiserver
	stop etcd
	# kube-proxy's chains go with the other new KUBE-* chains below (its
	# --cleanup would touch host-wide IPVS and ipsets too).
	# Mounts under the run dir (pod volumes, rootfs, shm) and our netns,
	# deepest first.
	local m
	# (containerd keeps the pods' netns under its state dir, in $RUN.)
	awk -v r="$RUN/" 'index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	# Cgroups the kubelet and runc made (all under kubepods, which did not
	# exist before `up`): kill what still runs in them, then rmdir deepest first.
	local cg
	for ((i = 0; i < 50; i++)); do
		for pid in $(find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
			kill -KILL "$pid" 2>/dev/null
		done
		for cg in /sys/fs/cgroup/*/kubepods; do
			[[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
		compgen -G '/sys/fs/cgroup/*/kubepods' >/dev/null || break
		sleep 0.2
	done
	compgen -G '/sys/fs/cgroup/*/kubepods' >/dev/null && log "error: cgroups left behind: $(echo /sys/fs/cgroup/*/kubepods)"
	# iptables: our chains, and every chain that appeared since `up` (the
	# kubelet's canaries, leftovers of kube-proxy), with the rules jumping to them.
	iptables_restore 4 iptables
	iptables_restore 6 ip6tables
	ip link del "$BRIDGE" 2>/dev/null
	local key s v
	while read -r key s v; do
		case $key in
		sysctl) [[ $(cat "/proc/sys/$s") == "$v" ]] || echo "$v" >"/proc/sys/$s" ;;
		esac
	done <"$state"
	# The kubelet links container logs into /var/log/containers whatever its
	# podLogsDir; remove our links, then the shared dirs we created.
	for m in /var/log/containers/*; do
		[[ -L $m && $(readlink "$m") == "$RUN/"* ]] && rm -f "$m"
	done
	rm -rf /var/lib/cni/results/mcp-e2e-* 2>/dev/null
	while read -r key s; do
		[[ $key == created ]] && rm -rf "$s"
	done <"$state"
	# Keep the logs for a look after a failed run; the rest goes.
	find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null
	log "down in $((SECONDS - t0))s"
	set -e
}

iptables_restore() { # 4|6 command
	local v=$1 cmd=$2 t chain rule
	for t in filter nat mangle raw; do
		local new=()
		# Only chains of ours (MCP-E2E-*) and of the kubelet and kube-proxy
		# (KUBE-*) that appeared since `up`: someone else's are not ours to
		# remove, and a built-in chain is never flushed.
		while read -r chain; do
			[[ $chain =~ ^(MCP-E2E-|KUBE-) ]] || continue
			grep -qx "chain$v $t $chain" "$RUN/host-state" || new+=("$chain")
		done < <("$cmd-save" -t "$t" 2>/dev/null | awk '/^:/{print substr($1, 2)}')
		((${#new[@]})) || continue
		for chain in "${new[@]}"; do
			# Rules in other chains that jump to a new one.
			"$cmd-save" -t "$t" | grep -E -- "^-A .* -j $chain( |\$)" | while read -r rule; do
				eval "$cmd -t $t -D ${rule#-A }" 2>/dev/null
			done
		done
		for chain in "${new[@]}"; do "$cmd" -t "$t" -F "$chain" 2>/dev/null; done
		for chain in "${new[@]}"; do "$cmd" -t "$t" -X "$chain" 2>/dev/null; done
	done
}

case "${1:-}" in
up) up ;;
down) down ;;
env) echo "KUBECONFIG=$RUN/admin.kubeconfig" ;;
running) running ;;
*) echo "usage: $0 up|down|env|running" >&2; exit 2 ;;
esac
