// Certificates made with the openssl CLI (EC P-256): a CA and leaf
// certificates for tests (createCa, issueCert), and the control plane's set:
// a CA, the kube-apiserver serving certificate, an admin client certificate in
// the system:masters group, the front-proxy client certificate, and the
// service-account signing key pair.
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface ControlPlaneCerts extends TestCa {
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  /** Client certificate the aggregator uses towards extension API servers (front proxy). */
  proxyClientCert: string;
  proxyClientKey: string;
  saPublicKey: string;
  saPrivateKey: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT")
      throw new Error("testenv: openssl not found on PATH: install it (apt-get install openssl)");
    throw new Error(`testenv: openssl ${args[0] ?? ""} failed: ${e.stderr ?? e.message}`);
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A certificate authority: its certificate and key files. */
export interface TestCa {
  readonly caCert: string;
  readonly caKey: string;
}

/** Writes a self-signed CA (`<name>.crt`, `<name>.key`, subject CN=`cn`) into dir. */
export async function createCa(dir: string, name: string, cn = name, days = 3650): Promise<TestCa> {
  const ca = { caCert: join(dir, `${name}.crt`), caKey: join(dir, `${name}.key`) };
  await openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    ca.caKey,
    "-out",
    ca.caCert,
    "-days",
    String(days),
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  return ca;
}

/** A leaf certificate and its key, as files. */
export interface TestCert {
  readonly cert: string;
  readonly key: string;
}

/**
 * Writes a leaf certificate signed by `ca` (`<name>.crt`, `<name>.key`) with
 * these DNS names and IP addresses as subjectAltNames, for TLS servers,
 * clients or both.
 */
export async function issueCert(
  dir: string,
  name: string,
  ca: TestCa,
  o: { dns?: readonly string[]; ips?: readonly string[]; usage: "server" | "client" | "both"; days?: number },
): Promise<TestCert> {
  const sans = [...(o.dns ?? []).map((d) => `DNS:${d}`), ...(o.ips ?? []).map((ip) => `IP:${ip}`)];
  const eku = { server: "serverAuth", client: "clientAuth", both: "serverAuth,clientAuth" }[o.usage];
  await leaf(
    dir,
    name,
    `/CN=${name}`,
    [...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []), `extendedKeyUsage=${eku}`],
    ca,
    o.days,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

async function leaf(
  dir: string,
  name: string,
  subj: string,
  ext: string[],
  ca: TestCa,
  days = 365,
): Promise<void> {
  const exts = ext.flatMap((e) => ["-addext", e]);
  await openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    join(dir, `${name}.key`),
    "-out",
    join(dir, `${name}.crt`),
    "-days",
    String(days),
    "-subj",
    subj,
    "-CA",
    ca.caCert,
    "-CAkey",
    ca.caKey,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    ...exts,
  ]);
}

/**
 * Writes all certificates and keys into dir and returns their paths. The
 * serving certificate names loopback, the `kubernetes` Service and extraIps.
 */
export async function generateCerts(
  dir: string,
  extraIps: readonly string[] = [],
): Promise<ControlPlaneCerts> {
  const ca = await createCa(dir, "ca", "chatcluster-testenv-ca");
  const certs: ControlPlaneCerts = {
    ...ca,
    serverCert: join(dir, "apiserver.crt"),
    serverKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.crt"),
    adminKey: join(dir, "admin.key"),
    proxyClientCert: join(dir, "front-proxy-client.crt"),
    proxyClientKey: join(dir, "front-proxy-client.key"),
    saPublicKey: join(dir, "sa.pub"),
    saPrivateKey: join(dir, "sa.key"),
  };
  const sans = [
    "IP:127.0.0.1",
    "DNS:localhost",
    "IP:10.96.0.1",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    ...extraIps.map((ip) => `IP:${ip}`),
  ].join(",");
  await Promise.all([
    leaf(
      dir,
      "apiserver",
      "/CN=kube-apiserver",
      [`subjectAltName=${sans}`, "extendedKeyUsage=serverAuth"],
      certs,
    ),
    leaf(
      dir,
      "admin",
      "/O=system:masters/CN=chatcluster-testenv-admin",
      ["extendedKeyUsage=clientAuth"],
      certs,
    ),
    leaf(dir, "front-proxy-client", "/CN=front-proxy-client", ["extendedKeyUsage=clientAuth"], certs),
  ]);
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  writeFileSync(certs.saPublicKey, publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(certs.saPrivateKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return certs;
}

/** A kubeconfig with the CA and admin credentials embedded (portable, no file references). */
export function adminKubeconfig(
  server: string,
  certs: ControlPlaneCerts,
  name = "chatcluster-testenv",
): string {
  const b64 = (path: string) => readFileSync(path).toString("base64");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "certificate-authority-data": b64(certs.caCert) } }],
    users: [
      {
        name: "admin",
        user: {
          "client-certificate-data": b64(certs.adminCert),
          "client-key-data": b64(certs.adminKey),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: "admin", namespace: "default" } }],
    "current-context": name,
    preferences: {},
  };
  // JSON is valid YAML; kubectl and every client read it.
  return `${JSON.stringify(config, null, 2)}\n`;
}
