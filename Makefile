# ChatCluster build entry points. Every target that runs Node first resolves the
# project's Node.js (scripts/node-env.sh) and makes sure node_modules matches the lockfile.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

WITH_NODE := source scripts/node-env.sh &&
# Test files: unit and integration tests live beside the code as *.test.ts.
# The real node's tests (testenv/node/, e2e/) run apart, one at a time: `make test-k8s`.
# So does the scale test (bench/), which loads both cores on its own.
TEST_GLOBS := 'cli/**/*.test.ts' 'platform/**/*.test.ts' 'gateway/**/*.test.ts' 'logic/**/*.test.ts' \
  'operator/**/*.test.ts' 'client/**/*.test.ts' 'testenv/*.test.ts' 'testenv/harness/**/*.test.ts' \
  'charts/**/*.test.ts' 'protocol/**/*.test.ts' 'dev/**/*.test.ts' \
  'monitoring/**/*.test.ts' 'reliability/**/*.test.ts' 'image/**/*.test.ts'
TEST_CONCURRENCY ?= 2
TEST_TIMEOUT_MS ?= 600000

.PHONY: help
help: ## List targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install Node.js 24 (when the machine's is older than 22.19) and npm packages
	@$(WITH_NODE) scripts/npm-install.sh

.PHONY: proto
proto: setup ## Regenerate TypeScript from proto/ with buf + protoc-gen-es
	@$(WITH_NODE) rm -rf gen && npx buf generate

.PHONY: lint
lint: setup ## buf lint, generated-code drift, import cycles and rules, stale results and doc figures, type-check, biome
	@if git grep -nE '^(<<<<<<<|>>>>>>>)( |$$)' -- . ':!node_modules'; then echo "lint: merge conflict markers above" >&2; exit 1; fi
	@$(WITH_NODE) npx buf lint
	@$(WITH_NODE) scripts/check-generated.sh
	@scripts/check-chart-crds.sh
	@$(WITH_NODE) node monitoring/build-dashboards.ts --check
	@$(WITH_NODE) node monitoring/build-metrics-doc.ts --check
	@$(WITH_NODE) node scripts/check-import-cycles.ts
	@$(WITH_NODE) node scripts/check-import-rules.ts
	@$(WITH_NODE) node bench/provenance/check-results.ts
	@$(WITH_NODE) node bench/provenance/render-figures.ts --check
	@$(WITH_NODE) npx tsc -p tsconfig.json
	@$(WITH_NODE) npx biome check .

.PHONY: chart-crds
chart-crds: ## Copy crds/ into the Helm chart
	@rm -rf charts/chatcluster/files/crds && cp -r crds charts/chatcluster/files/crds

.PHONY: dashboards
dashboards: setup ## Render the Grafana dashboards (monitoring/dashboards.ts) into the chart
	@$(WITH_NODE) node monitoring/build-dashboards.ts

.PHONY: metrics-doc
metrics-doc: setup ## Regenerate the metric table of docs/metrics.md from the metric factories
	@$(WITH_NODE) node monitoring/build-metrics-doc.ts

.PHONY: figures
figures: setup ## Rewrite the figures quoted in the docs from the results files
	@$(WITH_NODE) node bench/provenance/render-figures.ts

.PHONY: fmt
fmt: setup ## Format and apply safe lint fixes
	@$(WITH_NODE) npx biome check --write .

.PHONY: build
build: setup ## Emit the JavaScript the container image runs into dist/
	@$(WITH_NODE) rm -rf dist && npx tsc -p tsconfig.build.json && scripts/copy-generated.sh

.PHONY: test
test: setup system-packages testenv image ## Run every test (unit, integration against real components, then the real node's); nothing may skip
	@# The real node's tests run even when others failed; the target fails if either did.
	@rc=0; \
	$(WITH_NODE) scripts/run-tests.sh $(TEST_CONCURRENCY) $(TEST_TIMEOUT_MS) $(TEST_GLOBS) || rc=1; \
	$(WITH_NODE) scripts/run-tests.sh 1 $(K8S_TEST_TIMEOUT_MS) 'bench/**/*.test.ts' $(K8S_TEST_GLOBS) || rc=1; \
	exit $$rc

.PHONY: test-busy
test-busy: setup system-packages testenv image ## `make test` while stress-ng burns every core: the suite must hold on a busy machine
	@stress-ng --cpu 0 --quiet & burner=$$!; \
	trap 'kill $$burner 2>/dev/null; wait $$burner 2>/dev/null' EXIT INT TERM; \
	$(MAKE) --no-print-directory test

.PHONY: test-unit
test-unit: setup ## Run tests that need no external component
	@$(WITH_NODE) CHATCLUSTER_UNIT_ONLY=1 node --test --test-reporter=spec $(TEST_GLOBS)

.PHONY: dev
dev: setup ## Run the whole stack locally (2 gateways, 2 logic, SQLite; STORE=nats or NATS_URL=... for JetStream; HOOKS_EXAMPLE=1 for the example hooks)
	@if [ "$(STORE)" = "nats" ] && [ -z "$${NATS_URL:-}" ]; then $(MAKE) --no-print-directory testenv; fi
	@$(WITH_NODE) bin/chatcluster dev $(if $(STORE),--store=$(STORE),) $(if $(HOOKS_EXAMPLE),--hooks-example,)

-include testenv/testenv.mk
-include image/image.mk
-include bench/bench.mk
-include reliability/reliability.mk
