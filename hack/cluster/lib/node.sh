# shellcheck shell=bash
# The node, sourced by cluster.sh: the kubelet on containerd and kube-proxy
# in iptables mode, both on the bridge address.

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
# Mounted ConfigMaps and Secrets follow their objects within one pod sync:
# 10 s here (the default is a minute), so the suite can rotate the gateway's
# client CA in minutes; the product's default overlaps cover the default.
syncFrequency: 10s
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
