# Reliability suites (reliability/*.test.ts): chaos under load, hostile input,
# security. `make test` runs them as tests at a light load; this target runs the
# chaos scenarios at the full load (500 SDK clients, 1,000 msg/s) and records
# what they measured in reliability/results.json and the table of
# docs/reliability.md. The operator's internal certificates and NetworkPolicies
# are shown by its control-plane tests, which add their rows to the same table.
RELIABILITY_TESTS = 'reliability/**/*.test.ts' operator/src/internal-tls.integration.test.ts operator/src/knobs.integration.test.ts

.PHONY: test-reliability
test-reliability: setup testenv ## Chaos, hostile-input and security suites; writes reliability/results.json and docs/reliability.md's table
	@out=$$(mktemp -d) && rc=0 && \
	  $(WITH_NODE) node bench/provenance/capture-start.ts reliability/results.json >$$out/provenance-start.json && \
	  { $(WITH_NODE) CHATCLUSTER_RELIABILITY_OUT=$$out CHATCLUSTER_RELIABILITY_LOAD=full node --test --test-reporter=spec --test-concurrency=1 \
	    --test-timeout=$(TEST_TIMEOUT_MS) $(RELIABILITY_TESTS) || rc=$$?; } && \
	  $(WITH_NODE) node reliability/render-doc.ts $$out $$rc && rm -rf $$out && exit $$rc
