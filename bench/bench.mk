# Benchmarks. Each bench-* target writes bench/results/<name>.json and its own
# section of bench/RESULTS.md; `make bench` runs them all (others append).

.PHONY: bench
bench: bench-push ## Run every benchmark

.PHONY: bench-push
bench-push: setup ## Push stream vs REST/gRPC baselines; writes bench/results/push.json
	@$(WITH_NODE) node bench/push/run.ts

bench: bench-gateway

.PHONY: bench-gateway
bench-gateway: setup ## Gateway edge fan-out deliveries/s and idle RSS per connection; writes bench/results/gateway.json
	@$(WITH_NODE) node bench/gateway/run.ts

bench: bench-presence

.PHONY: bench-presence
bench-presence: setup testenv ## Presence count and pages on a 100,000-member room, SQLite and JetStream; writes bench/results/presence.json
	@$(WITH_NODE) node bench/presence/run.ts

bench: bench-e2e

.PHONY: bench-e2e
bench-e2e: setup testenv ## Chat sends end to end (make dev topology, SQLite and JetStream) against a ceiling baseline; writes bench/results/e2e.json
	@$(WITH_NODE) node bench/e2e/run.ts

bench: bench-scale

.PHONY: bench-scale
bench-scale: setup testenv ## 100,000 connections, logic rolled, a gateway stalled and one drained under load; writes bench/results/scale.json
	@$(WITH_NODE) node bench/scale/run.ts

bench: bench-store

.PHONY: bench-store
bench-store: setup testenv ## The message store alone: appends/s and a page read, SQLite and JetStream; writes bench/results/store.json
	@$(WITH_NODE) node bench/store/run.ts
