import { hostname } from "node:os";
import { ConfigError } from "../../platform/config-error.ts";
import {
  addressFlag,
  boolFlag,
  durationFlag,
  enumFlag,
  type FlagValues,
  intFlag,
  listFlag,
  stringFlag,
} from "../../platform/flags.ts";
import {
  checkTlsFiles,
  insecureInternalFlag,
  requireProtectedInternalLink,
  tlsReloadIntervalFlag,
} from "../../platform/internal-link-flags.ts";
import { LOG_LEVELS, type LogLevel } from "../../platform/logger.ts";
import { DEFAULT_RETRY_HORIZON_MS } from "../../protocol/client-frames.ts";
import { MIN_PRINCIPAL_KEY_BYTES } from "./auth/principal-seal.ts";
import { hookFlags } from "./hooks/hook-flags.ts";
import { hookSettings } from "./hooks/hook-settings.ts";
import type { GatewayTlsOptions } from "./link/gateway-connector.ts";

/**
 * Every flag of `chatcluster logic`, each with its CHATCLUSTER_* twin. Secrets
 * (JWT secret, API keys) can come from files so they need not sit in the
 * environment or on a command line; `validateLogicConfig` checks the
 * combinations that single flags cannot.
 */
export const logicFlags = {
  logicId: stringFlag(
    "CHATCLUSTER_LOGIC_ID",
    hostname(),
    "Stable name of this logic process (the pod name in Kubernetes), sent to gateways in the hello.",
  ),
  logLevel: enumFlag<LogLevel>("CHATCLUSTER_LOG_LEVEL", "info", "Log level.", LOG_LEVELS),

  // --- store
  store: enumFlag("CHATCLUSTER_STORE", "sqlite", "Message store: embedded SQLite file or NATS JetStream.", [
    "sqlite",
    "nats",
  ]),
  sqliteDataDir: stringFlag(
    "CHATCLUSTER_SQLITE_DATA_DIR",
    "./data",
    "Directory of the SQLite database file (store=sqlite); several logic processes on one host may share it.",
    "a directory path",
  ),
  sqliteSynchronous: enumFlag(
    "CHATCLUSTER_SQLITE_SYNCHRONOUS",
    "normal",
    "normal: commits survive a process crash; full: one fsync per commit batch, survives power loss.",
    ["normal", "full"],
  ),
  natsUrls: {
    ...listFlag(
      "CHATCLUSTER_NATS_URLS",
      "NATS server URLs (store=nats).",
      "a comma-separated list of nats:// URLs",
    ),
    default: Object.freeze(["nats://127.0.0.1:4222"]),
  },
  natsStream: stringFlag(
    "CHATCLUSTER_NATS_STREAM",
    "CHATCLUSTER",
    "JetStream stream holding every room of this cluster; created when missing.",
    "a stream name (letters, digits, - and _)",
  ),
  natsSubjectPrefix: stringFlag(
    "CHATCLUSTER_NATS_SUBJECT_PREFIX",
    "chatcluster",
    "Subject prefix; a room's messages live at <prefix>.room.<room>.",
    "a NATS subject prefix",
  ),
  natsDuplicateWindow: durationFlag(
    "CHATCLUSTER_NATS_DUPLICATE_WINDOW",
    120_000,
    "How long JetStream remembers message ids: a resend within it returns the original seq.",
    1000,
    86_400_000,
  ),
  natsReplicas: intFlag(
    "CHATCLUSTER_NATS_REPLICAS",
    1,
    "Replicas of every stream (messages, read markers, presence): 1, 3 or 5, at most the JetStream servers in the cluster; existing streams are scaled to it.",
    1,
    5,
  ),
  natsMaxAge: durationFlag(
    "CHATCLUSTER_NATS_MAX_AGE",
    0,
    "How long the stream keeps messages (history older than this is gone); 0 keeps them until limits say otherwise.",
    0,
    10 * 365 * 86_400_000,
  ),
  storeTimeout: durationFlag(
    "CHATCLUSTER_STORE_TIMEOUT",
    5000,
    "Timeout of one store request; past it the operation fails as store_unavailable (retryable).",
    100,
    60_000,
  ),
  maxInflightStoreOps: intFlag(
    "CHATCLUSTER_MAX_INFLIGHT_STORE_OPS",
    1024,
    "Store operations (appends and history reads) running at once in this process.",
    1,
    100_000,
  ),
  maxQueuedStoreOps: intFlag(
    "CHATCLUSTER_MAX_QUEUED_STORE_OPS",
    8192,
    "Store operations waiting for a slot; beyond it events get a retryable `overloaded` error.",
    0,
    1_000_000,
  ),
  admissionTarget: durationFlag(
    "CHATCLUSTER_ADMISSION_TARGET",
    50,
    "Queue delay of appends this process aims to stay under: past it for 4x as long, sends get a retryable `unavailable` with a jittered hint; a room's sends too once its oldest append is 5x as old. 0 turns it off.",
    0,
    60_000,
  ),
  maxHistoryPage: intFlag(
    "CHATCLUSTER_MAX_HISTORY_PAGE",
    100,
    "Largest history page (join and History).",
    1,
    1000,
  ),
  maxBodyBytes: intFlag(
    "CHATCLUSTER_MAX_BODY_BYTES",
    16_384,
    "Largest message body (JSON text).",
    16,
    1_048_576,
  ),

  // --- client auth (JWT); exactly one key source
  jwtSecret: stringFlag("CHATCLUSTER_JWT_SECRET", "", "HS256 shared secret (prefer --jwt-secret-file)."),
  jwtSecretFile: stringFlag(
    "CHATCLUSTER_JWT_SECRET_FILE",
    "",
    "File holding the HS256 secret.",
    "a file path",
  ),
  jwtPublicKeyFile: stringFlag(
    "CHATCLUSTER_JWT_PUBLIC_KEY_FILE",
    "",
    "PEM (SPKI) public key for RS256 or ES256 tokens.",
    "a file path",
  ),
  jwtJwksFile: stringFlag(
    "CHATCLUSTER_JWT_JWKS_FILE",
    "",
    "JWKS file (RS256/ES256 keys by kid); re-read when it changes.",
    "a file path",
  ),
  jwtIssuer: stringFlag("CHATCLUSTER_JWT_ISSUER", "", "Required `iss` claim; empty accepts any."),
  jwtAudience: listFlag("CHATCLUSTER_JWT_AUDIENCE", "Accepted `aud` values; empty accepts any."),
  jwtClockTolerance: durationFlag(
    "CHATCLUSTER_JWT_CLOCK_TOLERANCE",
    5000,
    "Clock skew allowed when checking exp and nbf.",
    0,
    300_000,
  ),

  // --- server API
  apiKeys: listFlag("CHATCLUSTER_API_KEYS", "Server API keys (prefer --api-keys-file)."),
  apiKeysFile: stringFlag(
    "CHATCLUSTER_API_KEYS_FILE",
    "",
    "File with one server API key per line (# comments allowed).",
    "a file path",
  ),
  apiListen: addressFlag(
    "CHATCLUSTER_API_LISTEN",
    "0.0.0.0:8081",
    "Server API (Connect, gRPC) listen address.",
  ),
  opsListen: addressFlag(
    "CHATCLUSTER_OPS_LISTEN",
    "0.0.0.0:9102",
    "Ops listen address: /healthz /readyz /metrics.",
  ),

  // --- gateway discovery
  discovery: enumFlag("CHATCLUSTER_DISCOVERY", "static", "How logic finds the gateways.", [
    "static",
    "file",
    "kubernetes",
  ]),
  discoveryStatic: listFlag(
    "CHATCLUSTER_DISCOVERY_STATIC",
    "Gateway internal addresses (discovery=static).",
    "a comma-separated list of host:port",
    (item) => {
      if (!/^.+:\d{1,5}$/.test(item)) throw new Error(`"${item}" is not host:port`);
    },
  ),
  discoveryFile: stringFlag(
    "CHATCLUSTER_DISCOVERY_FILE",
    "",
    "File listing gateway addresses, one host:port per line, watched (discovery=file).",
    "a file path",
  ),
  discoveryService: stringFlag(
    "CHATCLUSTER_DISCOVERY_SERVICE",
    "",
    "The gateways' headless Service whose EndpointSlices are watched (discovery=kubernetes).",
  ),
  discoveryNamespace: stringFlag(
    "CHATCLUSTER_DISCOVERY_NAMESPACE",
    "default",
    "Namespace of that Service (discovery=kubernetes).",
  ),
  discoveryPortName: stringFlag(
    "CHATCLUSTER_DISCOVERY_PORT_NAME",
    "internal",
    "Name of the gateways' internal port in their EndpointSlices (discovery=kubernetes).",
  ),
  kubeconfig: stringFlag(
    "CHATCLUSTER_KUBECONFIG",
    "",
    "Kubeconfig for discovery=kubernetes. Empty: $KUBECONFIG, then the in-cluster service account.",
    "a file path",
  ),

  // --- the push stream to the gateways
  internalSecret: stringFlag(
    "CHATCLUSTER_INTERNAL_SECRET",
    "",
    "Shared secret presented to the gateways' internal port (must match theirs): a second factor next to the client certificate.",
  ),
  internalSecretPrevious: stringFlag(
    "CHATCLUSTER_INTERNAL_SECRET_PREVIOUS",
    "",
    "The shared secret before a rotation: presented to a gateway that refuses the current one (a gateway started before the rotation).",
  ),
  principalKey: stringFlag(
    "CHATCLUSTER_PRINCIPAL_KEY",
    "",
    "Key (at least 32 bytes) logic signs the principals it issues with and verifies on every event; the same in every logic process, never given to gateways. Empty turns signing off (local runs only).",
  ),
  principalKeyPrevious: stringFlag(
    "CHATCLUSTER_PRINCIPAL_KEY_PREVIOUS",
    "",
    "During a rotation: a second key that verifies but never signs (docs/logic.md).",
  ),
  principalAcceptUnsigned: boolFlag(
    "CHATCLUSTER_PRINCIPAL_ACCEPT_UNSIGNED",
    false,
    "Let events whose principal has no signature through (counted), only while turning signing on across a running cluster.",
  ),
  internalTls: boolFlag(
    "CHATCLUSTER_INTERNAL_TLS",
    false,
    "Connect to the gateways' internal port over TLS instead of h2c.",
  ),
  internalTlsCa: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_CA",
    "",
    "PEM CA bundle that signed the gateways' internal certificates (with --internal-tls); empty: system roots. Re-read when it changes.",
    "a file path",
  ),
  internalTlsCert: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_CERT",
    "",
    "PEM client certificate (chain) presented to the gateways (with --internal-tls); re-read when it changes.",
    "a file path",
  ),
  internalTlsKey: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_KEY",
    "",
    "PEM private key of that certificate.",
    "a file path",
  ),
  internalTlsServerName: stringFlag(
    "CHATCLUSTER_INTERNAL_TLS_SERVER_NAME",
    "",
    "Name (DNS subjectAltName) every gateway's certificate must carry, e.g. gateway.<namespace>.<chatcluster>.chatcluster.internal; empty: the host of its address (needed with discovery=kubernetes, which yields pod IPs).",
    "a DNS name",
  ),
  internalTlsReloadInterval: tlsReloadIntervalFlag,
  insecureInternal: insecureInternalFlag,

  // --- hooks to the team's backend (docs/hooks.md)
  ...hookFlags,
} as const;

export type LogicConfig = FlagValues<typeof logicFlags>;

/** Checks what single flags cannot; throws ConfigError naming the flag. */
export function validateLogicConfig(c: LogicConfig): void {
  const keySources = [c.jwtSecret, c.jwtSecretFile, c.jwtPublicKeyFile, c.jwtJwksFile].filter(
    (v) => v !== "",
  );
  // With --hook-connect=instead the team's Connect hook decides instead of a JWT: a key is optional.
  if (keySources.length > 1 || (keySources.length === 0 && c.hookConnect !== "instead")) {
    throw new ConfigError(
      "jwt-secret-file",
      "exactly one of --jwt-secret, --jwt-secret-file, --jwt-public-key-file, --jwt-jwks-file is required (none with --hook-connect=instead)",
    );
  }
  if (c.jwtSecret !== "" && Buffer.byteLength(c.jwtSecret) < 32) {
    throw new ConfigError("jwt-secret", "an HS256 secret needs at least 32 bytes");
  }
  if (c.store === "nats" && c.natsUrls.length === 0) {
    throw new ConfigError("nats-urls", "store=nats needs at least one URL");
  }
  if (c.natsReplicas % 2 === 0) {
    // A quorum of an even group is more than half: 2 survives no loss, 4 no more than 3 does.
    throw new ConfigError("nats-replicas", "1, 3 or 5: an even count adds a copy but no tolerated failure");
  }
  if (!/^[A-Za-z0-9_-]+$/.test(c.natsStream)) {
    throw new ConfigError("nats-stream", "letters, digits, - and _ only");
  }
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(c.natsSubjectPrefix)) {
    throw new ConfigError("nats-subject-prefix", "dot-separated tokens of letters, digits, - and _");
  }
  for (const [flag, key] of [
    ["principal-key", c.principalKey],
    ["principal-key-previous", c.principalKeyPrevious],
  ] as const) {
    if (key !== "" && Buffer.byteLength(key) < MIN_PRINCIPAL_KEY_BYTES)
      throw new ConfigError(flag, `a principal key needs at least ${MIN_PRINCIPAL_KEY_BYTES} bytes`);
  }
  if (c.principalKey === "" && (c.principalKeyPrevious !== "" || c.principalAcceptUnsigned)) {
    throw new ConfigError(
      "principal-key",
      "--principal-key-previous and --principal-accept-unsigned need a key",
    );
  }
  if (c.principalKey !== "" && c.principalKey === c.principalKeyPrevious) {
    throw new ConfigError("principal-key-previous", "must differ from --principal-key");
  }
  if (c.discovery === "file" && c.discoveryFile === "") {
    throw new ConfigError("discovery-file", "discovery=file needs a file");
  }
  if (c.discovery === "kubernetes" && c.discoveryService === "") {
    throw new ConfigError("discovery-service", "discovery=kubernetes needs the gateways' Service name");
  }
  if (c.discovery === "static" && c.discoveryStatic.length === 0) {
    throw new ConfigError("discovery-static", "discovery=static needs at least one gateway address");
  }
  hookSettings(c);
  validateInternalTls(c);
}

function validateInternalTls(c: LogicConfig): void {
  if ((c.internalTlsCert === "") !== (c.internalTlsKey === ""))
    throw new ConfigError("internal-tls-key", "--internal-tls-cert and --internal-tls-key go together");
  if (!c.internalTls && (c.internalTlsCa || c.internalTlsCert || c.internalTlsServerName))
    throw new ConfigError("internal-tls", "the --internal-tls-* files and name need --internal-tls");
  if (c.internalTls && c.discovery === "kubernetes" && c.internalTlsServerName === "") {
    // Pod IPs change with every restart: no certificate issued ahead of time can name them.
    throw new ConfigError(
      "internal-tls-server-name",
      "discovery=kubernetes reaches gateways by pod IP: name their certificate's DNS name",
    );
  }
  requireProtectedInternalLink(
    { tls: c.internalTls, secret: c.internalSecret !== "" },
    "--internal-tls, --internal-tls-cert, --internal-tls-key",
    c.insecureInternal,
  );
  if (c.internalTls && (c.internalTlsCa || c.internalTlsCert)) {
    checkTlsFiles(c.internalTlsCert ? "internal-tls-cert" : "internal-tls-ca", {
      certFile: c.internalTlsCert || undefined,
      keyFile: c.internalTlsKey || undefined,
      caFile: c.internalTlsCa || undefined,
    });
  }
}

/** What the push stream lacks of TLS with a client certificate and the shared secret (empty: nothing), for a startup warning. */
export function internalLinkGaps(c: LogicConfig): string[] {
  const gaps: string[] = [];
  if (!c.internalTls) gaps.push("TLS (--internal-tls, --internal-tls-cert, --internal-tls-key)");
  else if (c.internalTlsCert === "")
    gaps.push("a client certificate (--internal-tls-cert, --internal-tls-key)");
  if (c.internalSecret === "") gaps.push("a shared secret (--internal-secret)");
  return gaps;
}

/** The fleet's TLS options from the parsed flags (undefined: h2c). */
export function gatewayTlsFrom(c: LogicConfig): GatewayTlsOptions | undefined {
  if (!c.internalTls) return undefined;
  return {
    caFile: c.internalTlsCa || undefined,
    certFile: c.internalTlsCert || undefined,
    keyFile: c.internalTlsKey || undefined,
    serverName: c.internalTlsServerName || undefined,
    reloadIntervalMs: c.internalTlsReloadInterval,
  };
}

/**
 * Settings that work but break a promise in some deployments; logged as
 * warnings at startup. A duplicate window shorter than the SDK's retry
 * horizon plus the store timeout lets a client that retries to its horizon
 * (by default) store a message twice.
 */
export function logicConfigWarnings(c: LogicConfig): string[] {
  const out: string[] = [];
  const needed = DEFAULT_RETRY_HORIZON_MS + c.storeTimeout;
  if (c.store === "nats" && c.natsDuplicateWindow < needed) {
    out.push(
      `--nats-duplicate-window ${c.natsDuplicateWindow} ms is shorter than the SDK's default retry horizon plus --store-timeout (${needed} ms): give clients a retryHorizonMs below ${c.natsDuplicateWindow - c.storeTimeout} ms, or a resend after the window is stored twice`,
    );
  }
  return out;
}

/** True when a JWT key source is configured. */
export function hasJwtKey(c: LogicConfig): boolean {
  return [c.jwtSecret, c.jwtSecretFile, c.jwtPublicKeyFile, c.jwtJwksFile].some((v) => v !== "");
}

/** The config with secrets replaced, for a startup log line. */
export function redactLogicConfig(c: LogicConfig): Record<string, unknown> {
  return {
    ...c,
    jwtSecret: c.jwtSecret === "" ? "" : "[redacted]",
    apiKeys: c.apiKeys.length === 0 ? [] : [`[${c.apiKeys.length} redacted]`],
    internalSecret: c.internalSecret === "" ? "" : "[redacted]",
    principalKey: c.principalKey === "" ? "" : "[redacted]",
    principalKeyPrevious: c.principalKeyPrevious === "" ? "" : "[redacted]",
    internalSecretPrevious: c.internalSecretPrevious === "" ? "" : "[redacted]",
    hooksSecret: c.hooksSecret === "" ? "" : "[redacted]",
  };
}
