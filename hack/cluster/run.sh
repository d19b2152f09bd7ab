#!/usr/bin/env bash
# The README's run command on the single-node cluster of cluster.sh (root):
# brings the cluster up unless it is already up, installs the product with
# manifests/overlays/local, applies one example MCP server (the npm
# server-everything on the base image, manifests/examples/stdio-base-image.yaml),
# gives an MCP client an identity and a token, and proves the whole path by
# running the client command it prints: an MCP initialize through the gateway.
#
#   hack/cluster/run.sh           leaves the cluster up (make cluster-down ends it)
#   hack/cluster/run.sh --once    then tears the cluster down, always (CI)
#
# Exit status: 0 only when the MCP initialize through the gateway returned a
# result. Run by `make run` (whose prerequisites build the binaries, the
# Kubernetes binaries and the image tarballs).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${CLUSTER_DIR:-$root/bin/cluster} # as cluster.sh
NODE=mcp-e2e
KUBECONFIG=$RUN/admin.kubeconfig
export KUBECONFIG
NS=default                # where the example server runs
SERVER=everything         # manifests/examples/stdio-base-image.yaml
CLIENT=mcp-demo-client    # hack/cluster/demo-client.yaml
TOKEN_FILE=$RUN/mcp-client.token

once=false
for a in "$@"; do
	case $a in
	--once) once=true ;;
	-h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--once]" >&2; exit 2 ;;
	esac
done

t0=$SECONDS
step() { printf '\n==> %s\n' "$*"; }
indent() { sed 's/^/    /'; }
die() { printf '\nrun: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (the cluster creates a bridge, network namespaces, cgroups and iptables rules)"
[[ -x $root/bin/mcpctl ]] || die "bin/mcpctl missing: run 'make build' (make run does)"
bins=$("$root/hack/build-envtest-bins.sh" cluster)
kubectl() { "$bins/kubectl" "$@"; }

# --- the cluster ---------------------------------------------------------------
# cluster_up: every process cluster.sh started still runs, the apiserver is
# ready and the node Ready. Anything less is not up: cluster.sh up then tears
# the remains down first (it does whenever $RUN/host-state exists).
cluster_up() {
	[[ -f $KUBECONFIG ]] && "$root/hack/cluster/cluster.sh" running || return 1
	kubectl get --raw /readyz --request-timeout=5s >/dev/null 2>&1 || return 1
	kubectl wait --for=condition=Ready "node/$NODE" --timeout=5s >/dev/null 2>&1
}

dump_state() {
	local args
	for args in "get pods -A -o wide" "get events -A --sort-by=.lastTimestamp" \
		"-n mcp-system logs deployment/mcp-webhook --tail=30" \
		"-n mcp-system logs deployment/mcp-gateway --tail=30" \
		"-n $NS logs deployment/$SERVER --all-containers --tail=30"; do
		echo "--- kubectl $args"
		# shellcheck disable=SC2086 # word splitting wanted
		kubectl $args 2>&1 | indent || true
	done >&2
}

finish() {
	local rc=$?
	trap - EXIT TERM INT HUP
	set +e
	if ((rc)); then
		# Before anything is torn down: what explains the failure.
		if [[ -f $KUBECONFIG ]] && kubectl get --raw /readyz --request-timeout=5s >/dev/null 2>&1; then
			step "FAILED (exit $rc): the cluster's state"
			dump_state
		fi
	fi
	if $once; then
		step "Tearing down (--once; without it: make cluster-down)"
		"$root/hack/cluster/cluster.sh" down 2>&1 | indent
	elif ((rc)) && [[ -f $RUN/host-state ]]; then
		step "The cluster stays up for a look; tear it down with: make cluster-down"
	fi
	if ((rc)); then
		printf '\nrun: FAILED after %ss (exit %s)\n' $((SECONDS - t0)) "$rc" >&2
	else
		printf '\nrun: done in %ss%s\n' $((SECONDS - t0)) "$($once && echo ', cluster torn down' || echo ', cluster up')"
	fi
	exit "$rc"
}
trap finish EXIT
# A signal becomes an exit, so finish runs (and --once tears down) for it too.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if cluster_up; then
	step "Cluster: already up, using it (KUBECONFIG=$KUBECONFIG)"
else
	[[ -f $RUN/host-state ]] && step "Cluster: found only part of a cluster; cluster.sh up tears it down first"
	step "Cluster: hack/cluster/cluster.sh up"
	"$root/hack/cluster/cluster.sh" up 2>&1 | indent
fi

# --- the product -------------------------------------------------------------------
step "Installing the product: kubectl apply -k manifests/overlays/local"
# The gateway's session key exists before its pods start (gateway.yaml):
# made here with a random key, never committed, kept across re-runs.
[[ -n $(kubectl get namespace mcp-system --ignore-not-found -o name) ]] ||
	kubectl apply -f "$root/manifests/base/namespace.yaml" 2>&1 | indent
if [[ -z $(kubectl -n mcp-system get secret mcp-gateway-session-key --ignore-not-found -o name) ]]; then
	kubectl -n mcp-system create secret generic mcp-gateway-session-key \
		--from-literal=keys="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" | indent
else
	echo "secret/mcp-gateway-session-key exists, kept" | indent
fi
kubectl apply -k "$root/manifests/overlays/local" 2>&1 | indent

step "Waiting for the webhook and the gateway, and for the webhook's caBundle"
for d in mcp-webhook mcp-gateway; do
	kubectl -n mcp-system rollout status "deployment/$d" --timeout=180s 2>&1 | tail -n1 | indent
done
# Self-signed mode writes the caBundle after start; until then the webhooks
# (failurePolicy Fail) refuse every labelled Deployment.
for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
	for ((i = 0; ; i++)); do
		[[ -n $(kubectl get "$kind" mcp-orchestrator -o 'jsonpath={.webhooks[0].clientConfig.caBundle}' 2>/dev/null) ]] && break
		((i < 120)) || die "the caBundle of $kind/mcp-orchestrator was never written"
		sleep 0.5
	done
	echo "$kind/mcp-orchestrator: caBundle written" | indent
done

# --- an example MCP server and a client ----------------------------------------------
step "Example MCP server: kubectl -n $NS apply -f manifests/examples/stdio-base-image.yaml"
# The apiserver may still use the configuration from before the caBundle
# for a moment (x509 errors): retry a few times.
for ((i = 1; ; i++)); do
	if out=$(kubectl -n "$NS" apply -f "$root/manifests/examples/stdio-base-image.yaml" 2>&1); then
		echo "$out" | indent
		break
	fi
	((i < 15)) || { echo "$out" | indent; die "applying the example server failed"; }
	sleep 2
done
kubectl -n "$NS" rollout status "deployment/$SERVER" --timeout=180s 2>&1 | tail -n1 | indent

step "MCP client identity: ServiceAccount $NS/$CLIENT (use/get/list on servers.mcp.archestra.io)"
kubectl apply -f "$root/hack/cluster/demo-client.yaml" 2>&1 | indent
# The token file goes with the cluster (cluster.sh down empties $RUN).
(umask 077 && kubectl -n "$NS" create token "$CLIENT" --duration=12h >"$TOKEN_FILE")
echo "token (12 h) in $TOKEN_FILE" | indent

# The gateway's Service, through kube-proxy's rules on this host.
ip=$(kubectl -n mcp-system get service mcp-gateway -o 'jsonpath={.spec.clusterIP}')
[[ -n $ip ]] || die "the mcp-gateway Service has no ClusterIP"
GATEWAY=http://$ip
for ((i = 0; ; i++)); do
	curl --noproxy '*' -fsS --max-time 2 "$GATEWAY/readyz" >/dev/null 2>&1 && break
	((i < 60)) || die "the gateway does not answer at $GATEWAY/readyz"
	sleep 0.5
done

# --- what the user sees ----------------------------------------------------------
step "Pods"
kubectl get pods -A -o wide 2>&1 | indent

# The exact commands printed below are the ones run here.
mcpctl_cmd="MCP_GATEWAY=$GATEWAY MCP_GATEWAY_TOKEN=\$(cat $TOKEN_FILE) $root/bin/mcpctl status -A"
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1.0"}}}'
curl_cmd="curl --noproxy '*' -sS -i --max-time 60 -X POST $GATEWAY/mcp/$NS/$SERVER \\
  -H \"Authorization: Bearer \$(cat $TOKEN_FILE)\" \\
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\
  -d '$init'"

step "mcpctl status -A (through the gateway)"
bash -c "$mcpctl_cmd" 2>&1 | indent

step "An MCP client through the gateway: initialize (the curl command below, run once)"
# server-everything starts with npx in the pod: give it a few tries.
for ((i = 1; ; i++)); do
	resp=$(bash -c "$curl_cmd" 2>&1) || true
	grep -q '"result"' <<<"$resp" && grep -q '"serverInfo"' <<<"$resp" && break
	((i < 5)) || { echo "$resp" | indent; die "no MCP initialize result from $GATEWAY/mcp/$NS/$SERVER"; }
	sleep 3
done
tr -d '\r' <<<"$resp" | indent
echo
echo "OK: the gateway authorized the token and $NS/$SERVER answered initialize." | indent

step "Gateway URL"
echo "$GATEWAY (the mcp-gateway Service's ClusterIP, reachable from this host through kube-proxy)" | indent
echo "MCP clients connect to $GATEWAY/mcp/<namespace>/<server>, e.g. $GATEWAY/mcp/$NS/$SERVER," | indent
echo "with the header Authorization: Bearer <token of a ServiceAccount allowed to use the server>" | indent

step "Try it: an MCP initialize with curl"
echo "$curl_cmd" | indent

step "Try it: mcpctl (the gateway's operators' API)"
echo "$mcpctl_cmd" | indent
echo "(this token may use, get and list servers; logs and restart need get on servers/logs" | indent
echo " and update on servers/restart, README \"mcpctl status|logs|restart\")" | indent

step "kubectl"
echo "export KUBECONFIG=$KUBECONFIG PATH=$bins:\$PATH" | indent
echo "kubectl get pods -A; kubectl -n $NS create token $CLIENT   # a fresh client token" | indent

$once || step "The cluster stays up. Tear it down with: make cluster-down"
