# The workload image as an OCI image archive, without Docker (see image/build-image.ts).
# Included by the main Makefile.

.PHONY: image
image: build ## Build the workload image as an OCI archive in .cache/image/ (no Docker, no registry)
	@$(WITH_NODE) node image/build-image.ts
