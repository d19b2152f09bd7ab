# MCP Orchestrator. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS   := -s -w -X github.com/archestra-ai/mcp-orchestrator/internal/version.Version=$(VERSION)
BINARIES  := mcp-webhook mcp-transport mcp-gateway mcpctl
# KUBEBUILDER_ASSETS for envtest: kube-apiserver and etcd built from Go modules.
ENVTEST_ASSETS = $(shell hack/build-envtest-bins.sh)
# helm for the chart tests, built from its Go module (tools/helm).
HELM_BIN = $(shell hack/build-helm.sh)
# Ory Hydra, the OAuth 2.1 / OpenID provider of the auth tests, built from its
# Go module (tools/hydra; cgo for its SQLite only, our binaries stay static).
HYDRA_BIN = $(shell hack/build-hydra.sh)
# Every shell script of the project, for shellcheck.
SHELL_SCRIPTS = $(shell find hack -name '*.sh' | sort) examples/typescript/install.sh .ci/run
LINT_DEBS := shellcheck
# debs-install installs those of the Debian packages $(1) that are missing.
debs-install = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [[ -n "$$missing" ]]; then \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

.PHONY: help setup build test test-unit test-integration bench lint lint-deps fuzz run-local clean

help: ## this list
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## everything the tests need: Go modules, kube-apiserver + kubectl + etcd (cached in bin/k8s), helm (bin/helm), Hydra (bin/hydra), the npm packages
	$(GO) mod download
	hack/build-envtest-bins.sh >/dev/null
	hack/build-helm.sh >/dev/null
	hack/build-hydra.sh >/dev/null
	@# The reference MCP server the sidecar tests run with npx, pinned by its lockfile.
	[[ -d transport/testdata/npm/node_modules/@modelcontextprotocol/server-everything ]] || npm ci --prefix transport/testdata/npm --no-audit --no-fund
	@# The TypeScript SDK clients (the gateway's OAuth test, the e2e suite's
	@# eras) and their Node, pinned by their lockfile.
	hack/npm-ci.sh tools/mcpclients >/dev/null

build: ## static binaries into bin/
	@mkdir -p bin
	for b in $(BINARIES); do CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/$$b ./cmd/$$b; done

test: setup lint ## what CI runs: unit + integration tests, the end-to-end suite on a real cluster (root), the run command once
	HELM=$(HELM_BIN) HYDRA=$(HYDRA_BIN) KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test -race -count=1 ./...
	$(MAKE) test-e2e
	$(MAKE) run RUN_ARGS=--once

test-unit: ## unit tests only, no apiserver
	$(GO) test -race -count=1 -short ./...

bench: setup ## benchmarks, printed as figures (see README "Performance")
	$(GO) test -run '^$$' -bench MutateReview -cpu 1 -benchtime 5s ./internal/admission/
	$(GO) test -run '^$$' -bench ToolsCall -benchtime 2000x ./transport/stdio/
	$(GO) test -run '^$$' -bench 'NewSession$$' -benchtime 20x ./transport/stdio/
	@# 64 clients at once, three bursts: what the warm pool holds and keeps for the next burst.
	$(GO) test -run '^$$' -bench NewSessionBurst -benchtime 3x ./transport/stdio/
	$(GO) test -run '^$$' -bench 'Eras|FirstResult' -benchtime 2000x ./transport/stdio/
	@# The sidecar binary in a process of its own (caller authentication on): its CPU and allocations per call, against direct.
	$(GO) test -run '^$$' -bench SidecarHop -benchtime 2000x ./transport/
	@# 10,000 standing streams (GET streams, subscriptions/listen) on one sidecar in shared mode: its RSS.
	$(GO) test -run '^$$' -bench IdleStreams -benchtime 1x ./transport/
	$(GO) test -run '^$$' -bench 'ToolsCall$$' -benchtime 20000x ./gateway/proxy/
	@# Both protocol eras in one run: 2026-07-28 and a legacy session, direct and through the gateway.
	$(GO) test -run '^$$' -bench 'ToolsCallEras|Handler' -benchmem -benchtime 10000x ./gateway/proxy/
	$(GO) test -run '^$$' -bench FirstResult -benchtime 500x ./gateway/proxy/
	@# The gateway-to-sidecar hop with caller authentication (mTLS) against the plain one.
	$(GO) test -run '^$$' -bench 'UpstreamHop|CallerAuthHop' -benchtime 5000x ./gateway/proxy/
	@# The gateway on a core of its own (as its own pod), clients and backend on the other.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test -exec 'taskset -c 0' -run '^$$' -bench ToolsCallGatewayOwnCore -benchtime 20000x ./test/gateway/
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test -exec 'taskset -c 0' -run '^$$' -bench ToolsCallErasOwnCore -benchtime 10000x ./test/gateway/
	@# 10,000 standing streams through one gateway replica to one shared sidecar: the RSS of both.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test -run '^$$' -bench IdleStreamsGateway -benchtime 1x ./test/gateway/
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test -run '^$$' -bench DeploymentCreate -benchtime 300x ./test/integration/
	@# What auth costs a request: OIDC (local JWT), ServiceAccount (local), TokenReview; cached and not.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test -run '^$$' -bench Authorization -count 3 ./test/gateway/
	@# Virtual servers: tools/call through one against the member's own endpoint, tools/list of five members against one.
	$(GO) test -run '^$$' -bench Virtual -benchtime 4000x ./gateway/virtual/

fuzz: ## 60 s on each fuzz target
	$(GO) test ./injector -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s
	$(GO) test ./injector -run '^$$' -fuzz '^FuzzInject$$' -fuzztime 60s
	$(GO) test ./webhook -run '^$$' -fuzz '^FuzzReview$$' -fuzztime 60s
	$(GO) test ./webhook -run '^$$' -fuzz '^FuzzCreatePatch$$' -fuzztime 60s
	$(GO) test ./internal/mcp -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 60s
	$(GO) test ./internal/mcp -run '^$$' -fuzz '^FuzzSet$$' -fuzztime 60s
	$(GO) test ./internal/mcp -run '^$$' -fuzz '^FuzzValidateModern$$' -fuzztime 60s
	$(GO) test ./gateway/session -run '^$$' -fuzz '^FuzzSessionID$$' -fuzztime 60s
	$(GO) test ./internal/toolfilter -run '^$$' -fuzz '^FuzzFoldCollision$$' -fuzztime 60s
	$(GO) test ./internal/toolfilter -run '^$$' -fuzz '^FuzzSSEWriter$$' -fuzztime 60s
	$(GO) test ./gateway/auth -run '^$$' -fuzz '^FuzzAuthenticateToken$$' -fuzztime 60s
	$(GO) test ./gateway/auth -run '^$$' -fuzz '^FuzzParseTokens$$' -fuzztime 60s
	$(GO) test ./gateway/auth -run '^$$' -fuzz '^FuzzParseOIDCConfig$$' -fuzztime 60s
	$(GO) test ./api -run '^$$' -fuzz '^FuzzParsePodEndpoint$$' -fuzztime 60s
	$(GO) test ./api -run '^$$' -fuzz '^FuzzParseCaller$$' -fuzztime 60s
	$(GO) test ./api -run '^$$' -fuzz '^FuzzParseHibernation$$' -fuzztime 60s
	$(GO) test ./internal/mcp -run '^$$' -fuzz '^FuzzHeaderValue$$' -fuzztime 60s
	$(GO) test ./internal/mcp -run '^$$' -fuzz '^FuzzParseMeta$$' -fuzztime 60s
	$(GO) test ./transport/stdio -run '^$$' -fuzz '^FuzzRequestState$$' -fuzztime 60s
	$(GO) test ./transport/stdio -run '^$$' -fuzz '^FuzzEventID$$' -fuzztime 60s
	$(GO) test ./injector -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime 60s
	$(GO) test ./gateway/virtual -run '^$$' -fuzz '^FuzzParseDefinition$$' -fuzztime 60s

lint-deps: ## Debian packages of make lint (shellcheck)
	@$(call debs-install,$(LINT_DEBS))

lint: lint-deps ## gofmt, go vet, shellcheck on every shell script
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	@# -x: the scripts' sourced files are checked with the variables they set.
	shellcheck -x $(SHELL_SCRIPTS)

run-local: setup build ## no root needed: local control plane (no node) + webhook + gateway, applies the examples, waits for Ctrl-C
	$(GO) run ./hack/localrun -assets $(ENVTEST_ASSETS) $(RUN_ARGS)

clean: ## remove built binaries (keeps the cached apiserver/etcd)
	rm -rf bin/mcp-* bin/mcpctl

include hack/cluster/cluster.mk
