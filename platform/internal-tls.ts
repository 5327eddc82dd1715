// The internal link's TLS bookkeeping, the same on both ends: its metrics,
// why a peer was refused, and the certificate files kept current.
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "./logger.ts";
import { type TlsFilePaths, type TlsFileWatch, type TlsMaterial, watchTlsFiles } from "./tls-files.ts";

/**
 * Why a TLS peer on the internal link was refused:
 * - no_certificate: the client presented no certificate where one is required;
 * - untrusted_certificate: the peer's certificate does not chain to our CA
 *   bundle (another CA, self-signed, expired, not yet valid);
 * - wrong_name: it chains, but does not carry the name this end expects;
 * - refused_by_peer: the peer refused our certificate (a TLS alert);
 * - handshake: any other handshake failure (protocol, cipher, garbage).
 */
export const TLS_REFUSAL_REASONS = [
  "no_certificate",
  "untrusted_certificate",
  "wrong_name",
  "refused_by_peer",
  "handshake",
] as const;
export type TlsRefusalReason = (typeof TLS_REFUSAL_REASONS)[number];

/** TLS metrics of one end of the internal link (its certificate, its reloads, whom it refused). */
export interface InternalTlsMetrics {
  readonly refusals: Counter<"reason">;
  readonly reloads: Counter<"result">;
  readonly certExpiry: Gauge;
  /** Records a loaded certificate's expiry. */
  loaded(material: TlsMaterial): void;
}

/** `prefix`: `chatcluster_gateway_link` or `chatcluster_logic_push`. */
export function createInternalTlsMetrics(registry: Registry, prefix: string): InternalTlsMetrics {
  const registers = [registry];
  const refusals = new Counter({
    name: `${prefix}_tls_refusals_total`,
    help: "TLS peers of the internal link refused (handshakes failed, certificates without the expected name), by reason.",
    labelNames: ["reason"] as const,
    registers,
  });
  const reloads = new Counter({
    name: `${prefix}_tls_reloads_total`,
    help: "Changed certificate, key or CA files: ok (in use for new connections) or error (the previous ones stay in use).",
    labelNames: ["result"] as const,
    registers,
  });
  const certExpiry = new Gauge({
    name: `${prefix}_tls_cert_expiry_timestamp_seconds`,
    help: "When the certificate this process presents on the internal link expires (Unix time); 0 without one.",
    registers,
  });
  for (const reason of TLS_REFUSAL_REASONS) refusals.inc({ reason }, 0);
  for (const result of ["ok", "error"]) reloads.inc({ result }, 0);
  return {
    refusals,
    reloads,
    certExpiry,
    loaded: (m) => certExpiry.set(m.notAfterMs / 1000),
  };
}

/**
 * The refusal a TLS socket error stands for, or undefined when it is not a
 * TLS failure (a refused or reset TCP connection). Codes are Node's and
 * OpenSSL's, as they appear on either end.
 */
export function tlsRefusalReason(err: NodeJS.ErrnoException): TlsRefusalReason | undefined {
  // Not every error on a socket has a string code (HTTP/2 session errors carry numbers).
  const code = typeof err.code === "string" ? err.code : "";
  // The server required a certificate and got none.
  if (code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") return "no_certificate";
  // tls.checkServerIdentity's verdict (or our own name check).
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "wrong_name";
  // The peer sent an alert: it refused our certificate (unknown CA, none sent, expired...).
  if (/^ERR_SSL_(TLSV1|TLSV13|SSLV3)_ALERT_/.test(code)) return "refused_by_peer";
  // X509 verification on our side: OpenSSL's verify codes, without an ERR_ prefix.
  if (/CERT|ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET/.test(code) && !code.startsWith("ERR_"))
    return "untrusted_certificate";
  if (code === "ERR_SSL_CERTIFICATE_VERIFY_FAILED") return "untrusted_certificate";
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return "handshake";
  return undefined;
}

/**
 * The files watched (platform/tls-files.ts) with every reload counted and
 * logged and the certificate's expiry exported. `onReload` applies new
 * material (the gateway's server takes it through setSecureContext).
 */
export function watchInternalTlsFiles(
  paths: TlsFilePaths,
  o: {
    intervalMs?: number | undefined;
    metrics: InternalTlsMetrics;
    log: Logger;
    onReload?: (m: TlsMaterial) => void;
  },
): TlsFileWatch {
  const files = watchTlsFiles(paths, {
    intervalMs: o.intervalMs,
    onReload(m) {
      o.onReload?.(m);
      o.metrics.reloads.inc({ result: "ok" });
      o.metrics.loaded(m);
      o.log.info({ notAfter: new Date(m.notAfterMs).toISOString() }, "internal TLS files reloaded");
    },
    onError(err) {
      o.metrics.reloads.inc({ result: "error" });
      o.log.warn(
        { err: err.message },
        "internal TLS files changed but cannot be used; keeping the previous ones",
      );
    },
  });
  o.metrics.loaded(files.current);
  return files;
}
