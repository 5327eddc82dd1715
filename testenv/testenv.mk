# Test environment: real components built from Go modules (see docs/testenv.md).
# Included by the main Makefile.

.PHONY: testenv
testenv: system-packages ## Build the pinned Kubernetes binaries, etcd, kwok, helm, nats-server, CoreDNS and the pause image into the user cache (no-op when warm)
	@$(WITH_NODE) testenv/build.sh

# NODE=real: the control plane with a real node (kubelet + containerd) instead of kwok.
NODE ?= kwok
.PHONY: cluster-up
cluster-up: testenv $(if $(filter real,$(NODE)),image,) ## Start a local cluster in the background (NODE=kwok|real); last line is KUBECONFIG=<path>
	@$(WITH_NODE) node testenv/harness/cluster.ts up --node=$(NODE)

.PHONY: cluster-down
cluster-down: ## Stop the cluster started by cluster-up and remove everything a real node made on this machine
	@$(WITH_NODE) node testenv/harness/cluster.ts down

# Tests on the real node: one real node per machine (kubelet's port 10250 and
# fixed host paths), so these files run one after another.
K8S_TEST_GLOBS := 'testenv/node/**/*.test.ts' 'e2e/**/*.test.ts'
K8S_TEST_TIMEOUT_MS ?= 1200000

.PHONY: test-k8s
test-k8s: setup testenv image ## Run the tests on a real node (kubelet + containerd), one file at a time
	@$(WITH_NODE) scripts/run-tests.sh 1 $(K8S_TEST_TIMEOUT_MS) $(K8S_TEST_GLOBS)

# Debian packages the tests need, as package:command-or-file (installed when the
# command or file is missing): promtool and prometheus (prometheus), chromium; for
# the real node containerd, runc, the CNI plugins, nft and iptables; gcc and
# glibc's static library for the pause image; stress-ng for `make test-busy`.
TESTENV_APT_PACKAGES := prometheus:promtool chromium:chromium containerd:containerd runc:runc \
  containernetworking-plugins:/usr/lib/cni/bridge nftables:nft iptables:iptables gcc:gcc \
  libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a stress-ng:stress-ng

.PHONY: system-packages
system-packages: ## apt-get install the Debian packages the tests need (TESTENV_APT_PACKAGES) when missing
	@missing=""; \
	for pair in $(TESTENV_APT_PACKAGES); do \
	  pkg="$${pair%%:*}"; cmd="$${pair#*:}"; \
	  if ! command -v "$$cmd" >/dev/null 2>&1 && [ ! -e "$$cmd" ] && ! dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'install ok installed'; then \
	    missing="$$missing $$pkg"; \
	  fi; \
	done; \
	if [ -z "$$missing" ]; then echo "system-packages: already installed"; exit 0; fi; \
	sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	echo "system-packages: installing$$missing"; \
	$$sudo apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing
