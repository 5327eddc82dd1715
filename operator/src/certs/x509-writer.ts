// Writes X.509 v3 certificates (EC P-256, ECDSA with SHA-256) in DER, from
// node:crypto alone: node can parse and verify certificates (X509Certificate)
// but not make them, and the few fields a CA and a TLS leaf need are a small
// part of ASN.1. Every certificate made here is read back by X509Certificate
// in the tests, and used in real TLS handshakes.
import { createHash, type KeyObject, randomBytes, sign } from "node:crypto";

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const TRUE = tlv(0x01, Buffer.from([0xff]));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const trimmed = b.subarray(i);
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5), to the second. */
function time(d: Date): Buffer {
  const iso = d.toISOString();
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), "ascii"))
    : tlv(0x18, Buffer.from(digits, "ascii"));
}

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

function name(commonName: string): Buffer {
  return seq(set(seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from(commonName, "utf8")))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), TRUE, octets(value)) : seq(oid(id), octets(value));
}

/** The key usage bits this module sets (RFC 5280 4.2.1.3: bit 0 is the first, most significant). */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

function keyUsage(usages: readonly (keyof typeof KEY_USAGE)[]): Buffer {
  let v = 0;
  for (const u of usages) v |= 0x80 >> KEY_USAGE[u];
  let unused = 0;
  while (unused < 7 && (v & (1 << unused)) === 0) unused++;
  return bits(Buffer.from([v]), unused);
}

export const EXTENDED_KEY_USAGE = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;
export type ExtendedKeyUsage = keyof typeof EXTENDED_KEY_USAGE;

/** SHA-1 of the public key's bits: the key identifier of RFC 5280 4.2.1.2 (1). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: "jwk" });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? "", "base64url"),
    Buffer.from(jwk.y ?? "", "base64url"),
  ]);
  return createHash("sha1").update(point).digest();
}

export interface CertificateFields {
  subject: string;
  /** The subject's public key (EC P-256). */
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (may sign others, no path length limit) or a TLS leaf. */
  ca: boolean;
  /** Leaf only: DNS subjectAltNames. */
  dnsNames?: readonly string[];
  /** Leaf only: serverAuth, clientAuth or both. */
  extendedKeyUsage?: readonly ExtendedKeyUsage[];
  /** The issuer's name and public key; absent, the certificate is its own issuer (a root CA). */
  issuer?: { subject: string; publicKey: KeyObject };
  /** The issuer's private key (the subject's own for a root CA). */
  signingKey: KeyObject;
}

/** One certificate, DER-encoded, signed with the issuer's key (or its own). */
export function writeCertificate(f: CertificateFields): Buffer {
  const issuerName = f.issuer?.subject ?? f.subject;
  const issuerKey = f.issuer?.publicKey ?? f.publicKey;
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const exts = [
    extension("2.5.29.19", true, f.ca ? seq(TRUE) : seq()),
    extension(
      "2.5.29.15",
      true,
      keyUsage(f.ca ? ["digitalSignature", "keyCertSign", "cRLSign"] : ["digitalSignature"]),
    ),
    extension("2.5.29.14", false, octets(keyIdentifier(f.publicKey))),
    extension("2.5.29.35", false, seq(tlv(0x80, keyIdentifier(issuerKey)))),
  ];
  if (f.extendedKeyUsage !== undefined && f.extendedKeyUsage.length > 0)
    exts.push(
      extension("2.5.29.37", false, seq(...f.extendedKeyUsage.map((u) => oid(EXTENDED_KEY_USAGE[u])))),
    );
  if (f.dnsNames !== undefined && f.dnsNames.length > 0)
    exts.push(
      extension("2.5.29.17", false, seq(...f.dnsNames.map((n) => tlv(0x82, Buffer.from(n, "ascii"))))),
    );
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(issuerName),
    seq(time(f.notBefore), time(f.notAfter)),
    name(f.subject),
    f.publicKey.export({ type: "spki", format: "der" }),
    explicit(3, seq(...exts)),
  );
  const signature = sign("sha256", tbs, f.signingKey);
  return seq(tbs, ECDSA_SHA256, bits(signature));
}

export function pem(der: Buffer, label = "CERTIFICATE"): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
