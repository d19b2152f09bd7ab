# shellcheck shell=bash
# Host state, sourced by cluster.sh. Sysctls the kubelet changes,
# ip_forward, which shared directories existed, and the iptables chains
# are recorded in $RUN/host-state before anything changes; `down` restores
# them even after a failed `up`, and removes what the pods left on the host
# (mounts, cgroups, log links). Every step tolerates what is already gone.

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

# same_boot: host-state was recorded since the last boot. After a reboot
# PIDs and chains may be others' now: `down` must not act on the record.
same_boot() { grep -qx "boot $(cat /proc/sys/kernel/random/boot_id)" "$RUN/host-state"; }

# unmount_run: mounts under the run dir (pod volumes, rootfs, shm) and our
# netns, deepest first.
unmount_run() {
	local m
	# (containerd keeps the pods' netns under its state dir, in $RUN.)
	awk -v r="$RUN/" 'index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

# remove_cgroups: the cgroups the kubelet and runc made (all under kubepods,
# which did not exist before `up`): kill what still runs in them, then rmdir
# deepest first.
remove_cgroups() {
	local cg pid i
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
}

# restore_host_state: the recorded sysctls, and the shared directories as
# they were.
restore_host_state() {
	local state=$RUN/host-state key s v m
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
}
