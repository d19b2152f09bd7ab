# The single-node cluster of the end-to-end suite (hack/cluster/cluster.sh).
# Included by the Makefile; everything it makes is under bin/.

E2E_DIR        := bin/e2e
IMAGES_DIR     := bin/images
# The npm MCP server the base image carries pre-installed (make setup
# installs it with its dependencies into transport/testdata/npm).
E2E_NPM_DIR    := transport/testdata/npm
E2E_NPM_PKG    := @modelcontextprotocol/server-everything
CLUSTER_DEBS   := containerd runc containernetworking-plugins iptables conntrack openssl iproute2

.PHONY: cluster-deps cluster-bins cluster-images cluster-up cluster-down test-e2e run e2e-npm

cluster-deps: ## Debian packages of the cluster (containerd, runc, CNI plugins, iptables, conntrack)
	@$(call debs-install,$(CLUSTER_DEBS))

cluster-bins: ## kubelet, control plane, kube-proxy, kubectl, etcd from Go modules (cached in bin/k8s)
	hack/build-envtest-bins.sh cluster >/dev/null

cluster-images: build ## image tarballs for the cluster into bin/images
	@mkdir -p $(E2E_DIR)
	[[ -d $(E2E_NPM_DIR)/node_modules/$(E2E_NPM_PKG) ]] || npm ci --prefix $(E2E_NPM_DIR) --no-audit --no-fund
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(E2E_DIR)/pause ./hack/cluster/pause
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(E2E_DIR)/stdio-server ./test/e2e/testdata/stdio-server
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(E2E_DIR)/http-server ./test/e2e/testdata/http-server
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(E2E_DIR)/prober ./test/e2e/testdata/prober
	@# npx asks the registry for a package's metadata even when it is installed
	@# globally; one run against a global prefix holding the package leaves
	@# that answer in a cache the base image carries (pods have no network).
	@# Lowercase names: npm takes them over the uppercase ones, so a caller's
	@# own npm_config_cache (CI systems set one) cannot send the cache elsewhere.
	if [[ ! -d $(E2E_DIR)/npm-cache/_cacache ]]; then \
		rm -rf $(E2E_DIR)/npm-prefix $(E2E_DIR)/npm-cache && mkdir -p $(E2E_DIR)/npm-prefix/lib; \
		ln -s $(CURDIR)/$(E2E_NPM_DIR)/node_modules $(E2E_DIR)/npm-prefix/lib/node_modules; \
		npm_config_prefix=$(CURDIR)/$(E2E_DIR)/npm-prefix npm_config_cache=$(CURDIR)/$(E2E_DIR)/npm-cache \
			npx -y $(E2E_NPM_PKG) </dev/null >/dev/null 2>&1 || true; \
		rm -rf $(E2E_DIR)/npm-cache/_logs $(E2E_DIR)/npm-cache/_npx; \
		[[ -d $(E2E_DIR)/npm-cache/_cacache ]] || { echo "npm cache for $(E2E_NPM_PKG) not made"; exit 1; }; \
	fi
	@# The reference servers of both eras (hack/build-mcpservers.sh prints the
	@# go-sdk v1.8 and v1.4.1 everything-servers; our legacy conformance-server
	@# is built beside the second) run as the suite's stdio and HTTP servers.
	set -- $$(hack/build-mcpservers.sh) && cd tools/images && $(GO) run . -out $(CURDIR)/$(IMAGES_DIR) -bin $(CURDIR)/bin \
		-pause $(CURDIR)/$(E2E_DIR)/pause -node-modules $(CURDIR)/$(E2E_NPM_DIR)/node_modules \
		-npm-cache $(CURDIR)/$(E2E_DIR)/npm-cache \
		-server stdio-server=$(CURDIR)/$(E2E_DIR)/stdio-server -server http-server=$(CURDIR)/$(E2E_DIR)/http-server \
		-server everything-server="$$1" -server conformance-server="$$(dirname "$$2")/conformance-server" \
		-server prober=$(CURDIR)/$(E2E_DIR)/prober

cluster-up: cluster-deps cluster-bins cluster-images ## single-node cluster on this machine (root); KUBECONFIG=bin/cluster/admin.kubeconfig
	hack/cluster/cluster.sh up

cluster-down: ## stop the cluster and put the host back as it was
	hack/cluster/cluster.sh down

e2e-npm: ## what the suite runs on Node: examples/typescript (npm ci, tsc), the TypeScript SDK clients, the conformance suite (each pinned by its lockfile, skipped when current)
	examples/typescript/install.sh >/dev/null
	hack/npm-ci.sh tools/mcpclients >/dev/null
	hack/conformance.sh --install >/dev/null

test-e2e: cluster-deps cluster-bins cluster-images e2e-npm ## end-to-end suite: brings the cluster up, installs the product, tears down
	@# The suite tears down itself, but not when the test binary dies (a
	@# -timeout panic, a panic in a test goroutine): tear down here as well.
	rc=0; HYDRA=$(HYDRA_BIN) $(GO) test -tags e2e -count=1 -timeout 30m -v ./test/e2e/ || rc=$$?; hack/cluster/cluster.sh down; exit $$rc

run: cluster-deps cluster-bins cluster-images ## the product on the single-node cluster (root): example server, gateway URL, client command; RUN_ARGS=--once tears down after
	hack/cluster/run.sh $(RUN_ARGS)
