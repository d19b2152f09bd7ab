# shellcheck shell=bash
# The control plane, sourced by cluster.sh: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, all on loopback except the
# apiserver (see net.sh).

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
