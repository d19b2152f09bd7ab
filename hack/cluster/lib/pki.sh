# shellcheck shell=bash
# PKI of the cluster, sourced by cluster.sh: one CA signs every serving and
# client certificate; a kubeconfig per component.

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
