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
# This file holds the settings and the order of the steps; each concern is a
# file in lib/ it sources:
#   state.sh          host state recorded before `up`, restored by `down`
#   procs.sh          processes started and stopped by PID
#   pki.sh            the CA, certificates and kubeconfigs
#   net.sh            bridge, routes, iptables chains, CNI (the network is
#                     described there)
#   containerd.sh     containerd, image import, pods' tasks and shims
#   control-plane.sh  etcd, kube-apiserver, controller-manager, scheduler
#   node.sh           kubelet and kube-proxy
# Every process is started here and stopped by PID; what `up` changes on the
# host is recorded in $RUN/host-state first, and `down` restores it even
# after a failed `up`.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# A closed output (Ctrl-C took the reader too) must not kill a teardown.
trap '' PIPE

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
RUN=${CLUSTER_DIR:-$root/bin/cluster}
IMAGES=$root/bin/images # tarballs of make cluster-images
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

# shellcheck source=lib/state.sh
source "$here/lib/state.sh"
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
# shellcheck source=lib/pki.sh
source "$here/lib/pki.sh"
# shellcheck source=lib/net.sh
source "$here/lib/net.sh"
# shellcheck source=lib/containerd.sh
source "$here/lib/containerd.sh"
# shellcheck source=lib/control-plane.sh
source "$here/lib/control-plane.sh"
# shellcheck source=lib/node.sh
source "$here/lib/node.sh"

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

up() {
	local bins t0=$SECONDS
	bins=$("$root/hack/build-envtest-bins.sh" cluster)
	ls "$IMAGES"/*.tar >/dev/null 2>&1 || die "no image tarballs in bin/images: run 'make cluster-images'"
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
	network_up
	containerd_up
	control_plane_up "$bins"
	node_up "$bins"
	trap - EXIT TERM INT HUP
	log "up in $((SECONDS - t0))s: export KUBECONFIG=$RUN/admin.kubeconfig"
}

# running: the cluster `up` made is all there (its processes and bridge).
running() {
	[[ -f $RUN/host-state ]] && ip link show "$BRIDGE" >/dev/null 2>&1 || return 1
	local c pid
	for c in containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
		ours "$c" || return 1
	done
}

# down: every step tolerates what is already gone.
down() {
	set +e
	local t0=$SECONDS state=$RUN/host-state
	[[ -f $state ]] || { log "nothing to tear down ($state missing)"; return 0; }
	if ! same_boot; then
		log "the host rebooted since up: removing $RUN only"
		find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null
		set -e
		return 0
	fi
	stop kube-controller-manager
	stop kube-scheduler
	stop kubelet
	containerd_down
	stop kube-proxy
	stop kube-apiserver
	stop etcd
	# kube-proxy's chains go with the other new KUBE-* chains in
	# network_down (its --cleanup would touch host-wide IPVS and ipsets too).
	unmount_run
	remove_cgroups
	network_down
	restore_host_state
	# Keep the logs for a look after a failed run; the rest goes.
	find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null
	log "down in $((SECONDS - t0))s"
	set -e
}

case "${1:-}" in
up) up ;;
down) down ;;
env) echo "KUBECONFIG=$RUN/admin.kubeconfig" ;;
running) running ;;
*) echo "usage: $0 up|down|env|running" >&2; exit 2 ;;
esac
