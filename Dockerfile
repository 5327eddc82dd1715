# syntax=docker/dockerfile:1.7
# One image for every role: `chatcluster gateway | logic | operator`.

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

# --- runtime ----------------------------------------------------------------------
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
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
