# Test environment: real components built from Go modules (see docs/testenv.md).
# Included by the main Makefile.

.PHONY: testenv
testenv: ## Build the pinned kube-apiserver/etcd/kwok/helm/nats-server into the user cache (no-op when warm)
	@testenv/build.sh

.PHONY: cluster-up
cluster-up: testenv ## Start a local control plane with kwok in the background; last line is KUBECONFIG=<path>
	@$(WITH_NODE) node testenv/harness/cluster.ts up

.PHONY: cluster-down
cluster-down: ## Stop the control plane started by cluster-up (every component)
	@$(WITH_NODE) node testenv/harness/cluster.ts down

# Debian packages some tests need: promtool (package prometheus) and chromium.
TESTENV_APT_PACKAGES := prometheus:promtool chromium:chromium

.PHONY: system-packages
system-packages: ## apt-get install prometheus (promtool) and chromium when missing
	@missing=""; \
	for pair in $(TESTENV_APT_PACKAGES); do \
	  pkg="$${pair%%:*}"; cmd="$${pair#*:}"; \
	  if ! command -v "$$cmd" >/dev/null 2>&1 && ! dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'install ok installed'; then \
	    missing="$$missing $$pkg"; \
	  fi; \
	done; \
	if [ -z "$$missing" ]; then echo "system-packages: already installed"; exit 0; fi; \
	sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	echo "system-packages: installing$$missing"; \
	$$sudo apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing
