# Test environment: real components built from Go modules (see docs/testenv.md).
# Included by the main Makefile.

.PHONY: testenv
testenv: system-packages ## Build the pinned Kubernetes binaries, etcd, kwok, helm, nats-server, CoreDNS and the pause image into the user cache (no-op when warm)
	@$(WITH_NODE) testenv/build.sh

.PHONY: cluster-up
cluster-up: testenv ## Start a local control plane with kwok in the background; last line is KUBECONFIG=<path>
	@$(WITH_NODE) node testenv/harness/cluster.ts up

.PHONY: cluster-down
cluster-down: ## Stop the control plane started by cluster-up (every component)
	@$(WITH_NODE) node testenv/harness/cluster.ts down

# Debian packages the tests need, as package:command-or-file (installed when the
# command or file is missing): promtool and prometheus (prometheus), chromium; for
# the real node containerd, runc, the CNI plugins, nft and iptables; gcc and
# glibc's static library for the pause image.
TESTENV_APT_PACKAGES := prometheus:promtool chromium:chromium containerd:containerd runc:runc \
  containernetworking-plugins:/usr/lib/cni/bridge nftables:nft iptables:iptables gcc:gcc \
  libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a

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
