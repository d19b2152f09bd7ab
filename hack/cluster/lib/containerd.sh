# shellcheck shell=bash
# containerd, sourced by cluster.sh: its own socket, root and state under
# $RUN, the CRI plugin with the CNI bridge of net.sh, and the image
# tarballs of tools/images imported (no registry).

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
	for img in "$IMAGES"/*.tar; do
		ctr --address "$SOCK" -n k8s.io images import "$img" >/dev/null \
			|| die "importing $img"
	done
}

# containerd_down: every pod's task, containerd, then the shims that outlive it.
containerd_down() {
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
}
