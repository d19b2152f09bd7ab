# shellcheck shell=bash
# The cluster's network, sourced by cluster.sh. All of it on this host,
# nothing routed out:
#   pods 198.18.0.0/24 on the bridge mcpe2e0 (host side 198.18.0.1),
#   services 198.19.0.0/24 by kube-proxy in iptables mode. The benchmarking
#   range 198.18.0.0/15 is outside every private range other tenants use.
#   Pods reach the apiserver through the `kubernetes` Service: the apiserver
#   advertises the bridge address, so its own endpoint reconciler publishes
#   198.18.0.1:16443 and kube-proxy DNATs 198.19.0.1:443 there. It listens on
#   all addresses because it must answer on loopback (host clients) and on
#   the bridge (pods); the MCP-E2E-IN chain refuses it on every other
#   interface. No masquerade for pod traffic (the CNI bridge has ipMasq off).
#   The apiserver reaches the kubelet (logs, exec) at the node's InternalIP,
#   the bridge address, never by its name: a name would need a DNS lookup.
#   MCP-E2E-FWD drops anything from the pod range that would leave through any
#   interface other than the bridge.

network_up() {
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

# network_down: our iptables chains and the bridge. ip_forward and the
# bridge sysctl are put back with the other sysctls (state.sh).
network_down() {
	# iptables: our chains, and every chain that appeared since `up` (the
	# kubelet's canaries, leftovers of kube-proxy), with the rules jumping to them.
	iptables_restore 4 iptables
	iptables_restore 6 ip6tables
	ip link del "$BRIDGE" 2>/dev/null
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
