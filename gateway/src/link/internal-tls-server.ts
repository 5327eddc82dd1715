import type * as http2 from "node:http2";
import { checkServerIdentity, type TLSSocket, type TlsOptions } from "node:tls";
import type { Registry } from "prom-client";
import {
  createInternalTlsMetrics,
  tlsRefusalReason,
  watchInternalTlsFiles,
} from "../../../platform/internal-tls.ts";
import type { Logger } from "../../../platform/logger.ts";
import type { TlsMaterial } from "../../../platform/tls-files.ts";

/** TLS of the gateway's internal port. */
export interface InternalTlsServerOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /**
   * CA bundle logic's client certificates must chain to. Set, a client
   * certificate is required (mTLS): a handshake without one, or with one of
   * another CA, fails before any HTTP/2 byte.
   */
  readonly caFile?: string | undefined;
  /**
   * Name logic's client certificate must carry (a DNS subjectAltName, e.g.
   * `logic.<namespace>.<chatcluster>.chatcluster.internal`); streams of a
   * session whose certificate lacks it end with UNAUTHENTICATED. Without it,
   * any certificate the CA signed is accepted. Needs caFile.
   */
  readonly clientName?: string | undefined;
  /** How often the files are re-read for a rotation. Default 10 s. */
  readonly reloadIntervalMs?: number | undefined;
}

/** The internal port's TLS: the server options, rotation, and the client-name check. */
export interface InternalTlsServer {
  /** Spread into http2.createSecureServer's options. */
  readonly serverOptions: TlsOptions;
  /** Counts failed handshakes and applies rotated files to the server's new connections. */
  attach(server: http2.Http2SecureServer): void;
  /** Why streams of this session are refused (its certificate lacks the client name), or undefined. */
  refusal(session: http2.ServerHttp2Session): string | undefined;
  close(): void;
}

export function createInternalTlsServer(
  o: InternalTlsServerOptions,
  registry: Registry,
  log: Logger,
): InternalTlsServer {
  if (o.clientName !== undefined && o.caFile === undefined)
    throw new RangeError("internal TLS: clientName needs caFile (the CA that signs logic's certificates)");
  const metrics = createInternalTlsMetrics(registry, "chatcluster_gateway_link");
  const secure = (m: TlsMaterial) => ({ cert: m.cert, key: m.key, ca: m.ca });
  let server: http2.Http2SecureServer | undefined;
  const files = watchInternalTlsFiles(
    { certFile: o.certFile, keyFile: o.keyFile, caFile: o.caFile },
    {
      intervalMs: o.reloadIntervalMs,
      metrics,
      log,
      // New handshakes use the new files; open sessions keep theirs, so the push stream is not dropped.
      onReload: (m) => server?.setSecureContext(secure(m)),
    },
  );
  const mtls = o.caFile !== undefined;
  const verdicts = new WeakMap<http2.ServerHttp2Session, string | undefined>();
  return {
    serverOptions: { ...secure(files.current), requestCert: mtls, rejectUnauthorized: mtls },
    attach(s) {
      server = s;
      s.on("tlsClientError", (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        // A client certificate that fails verification ends the handshake as a
        // bare ECONNRESET; the verdict is on the socket.
        // bare ECONNRESET; OpenSSL's verdict is on the socket (a code string, whatever the types say).
        const verdict: unknown = socket.authorizationError;
        const code = typeof verdict === "string" ? verdict : err.code;
        const reason = tlsRefusalReason({ ...err, code }) ?? "handshake";
        metrics.refusals.inc({ reason });
        log.debug({ reason, err: err.message }, "internal TLS handshake refused");
      });
    },
    refusal(session) {
      if (o.clientName === undefined) return undefined;
      if (verdicts.has(session)) return verdicts.get(session);
      const socket = session.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const mismatch = checkServerIdentity(o.clientName, cert);
      const verdict = mismatch === undefined ? undefined : `client certificate does not name ${o.clientName}`;
      if (verdict !== undefined) {
        metrics.refusals.inc({ reason: "wrong_name" });
        log.warn({ subject: cert.subject?.CN, expected: o.clientName }, "internal TLS client refused");
      }
      verdicts.set(session, verdict);
      return verdict;
    },
    close: () => files.close(),
  };
}
