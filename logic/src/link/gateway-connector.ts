import { connect as netConnect } from "node:net";
import type { Duplex } from "node:stream";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import type { Registry } from "prom-client";
import {
  createInternalTlsMetrics,
  tlsRefusalReason,
  watchInternalTlsFiles,
} from "../../../platform/internal-tls.ts";
import type { Logger } from "../../../platform/logger.ts";
import type { TlsFileWatch } from "../../../platform/tls-files.ts";

/** TLS towards the gateways' internal ports. */
export interface GatewayTlsOptions {
  /** PEM CA bundle that signed the gateways' certificates; default: the system roots. */
  readonly caFile?: string | undefined;
  /** Client certificate and key presented to the gateways (mTLS). */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /**
   * The name every gateway's certificate must carry (a DNS subjectAltName,
   * e.g. `gateway.<namespace>.<chatcluster>.chatcluster.internal`), checked
   * whatever address the gateway was reached at. Needed when gateways are
   * addressed by pod IP (EndpointSlices): pod IPs change with every restart
   * and cannot be in a certificate issued ahead of time. Default: the host
   * of the gateway's address.
   */
  readonly serverName?: string | undefined;
  /** Default true. Only for tests with self-signed certificates. */
  readonly rejectUnauthorized?: boolean | undefined;
  /** How often the files are re-read for a rotation. Default 10 s. */
  readonly reloadIntervalMs?: number | undefined;
}

/** Opens the socket under each gateway's HTTP/2 session. */
export interface GatewayConnector {
  connect(authority: URL): Duplex;
  close(): void;
}

/**
 * Plain TCP for http:// gateways; TLS for https:// ones, verified against
 * the CA bundle and `serverName`, presenting the client certificate. The
 * files are re-read every reloadIntervalMs: a new connection uses the newest
 * files, open sessions (and their push streams) keep theirs. Refused
 * handshakes are counted by reason (chatcluster_logic_push_tls_refusals_total).
 */
export function createGatewayConnector(
  tls: GatewayTlsOptions | undefined,
  registry: Registry,
  log: Logger,
): GatewayConnector {
  const plain = (host: string, port: number) => netConnect({ host, port, noDelay: true });
  if (tls === undefined) {
    return { connect: (authority) => plain(...hostPort(authority)), close: () => {} };
  }
  const metrics = createInternalTlsMetrics(registry, "chatcluster_logic_push");
  let files: TlsFileWatch | undefined;
  if (tls.caFile || tls.certFile || tls.keyFile) {
    files = watchInternalTlsFiles(
      { certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile },
      { intervalMs: tls.reloadIntervalMs, metrics, log },
    );
  }
  const onSocketError = (err: NodeJS.ErrnoException) => {
    const reason = tlsRefusalReason(err);
    if (reason !== undefined) metrics.refusals.inc({ reason });
  };
  return {
    connect(authority) {
      const [host, port] = hostPort(authority);
      if (authority.protocol !== "https:") return plain(host, port);
      const ip = /^[\d.:]+$/.test(host);
      const socket = tlsConnect({
        host,
        port,
        ALPNProtocols: ["h2"],
        // SNI cannot be an IP address.
        servername: tls.serverName ?? (ip ? undefined : host),
        secureContext: files?.current.context,
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
        checkServerIdentity: (h, cert) => checkServerIdentity(tls.serverName ?? h, cert),
      });
      socket.setNoDelay(true);
      socket.once("error", onSocketError);
      return socket;
    },
    close: () => files?.close(),
  };
}

function hostPort(authority: URL): [string, number] {
  const host = authority.hostname.replace(/^\[(.*)\]$/, "$1");
  return [host, Number(authority.port || (authority.protocol === "https:" ? 443 : 80))];
}
