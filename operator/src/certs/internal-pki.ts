// The internal link's certificates when the operator is the issuer: a CA per
// ChatCluster and one leaf per tier, renewed before they expire, and a CA
// rotation staged so that every pod trusts a leaf before any peer presents it.
// Pure: the state comes in (from the Secrets), the next state and when to look
// again go out; internal-tls-step.ts reads and writes the Secrets.
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto";
import { type ExtendedKeyUsage, pem, writeCertificate } from "./x509-writer.ts";

export type Tier = "gateway" | "logic";

/** The fixed name each tier's certificate carries and the other tier checks (docs/push-stream.md). */
export function tierDnsName(tier: Tier, namespace: string, chatCluster: string): string {
  return `${tier}.${namespace}.${chatCluster}.chatcluster.internal`;
}

/** The gateway serves (serverAuth), logic connects (clientAuth). */
const TIER_USAGE: Record<Tier, ExtendedKeyUsage> = { gateway: "serverAuth", logic: "clientAuth" };

export interface KeyPairPem {
  cert: string;
  key: string;
}

export interface CaState extends KeyPairPem {
  /** The CA being replaced, while a rotation runs: still trusted, and signing leaves until phase "leaves". */
  previous?: KeyPairPem;
  /**
   * "bundle": both CAs are in every pod's bundle, the leaves still come from
   * the previous CA; "leaves": the leaves come from the new CA, the previous
   * one is still trusted. Each lasts at least the propagation time.
   */
  rotation?: { phase: "bundle" | "leaves"; sinceMs: number };
}

export interface LeafState extends KeyPairPem {
  /** ca.crt: the CA certificates a pod trusts (the current CA, and the previous during a rotation). */
  bundle: string;
}

export interface PkiState {
  ca: CaState | undefined;
  gateway: LeafState | undefined;
  logic: LeafState | undefined;
}

export interface PkiPolicy {
  namespace: string;
  chatCluster: string;
  leafLifetimeMs: number;
  /**
   * How long a changed Secret takes to reach every pod: the kubelet's sync of
   * mounted Secrets (about a minute) plus the processes' 10 s re-read.
   */
  propagationMs: number;
}

export interface PkiPlan {
  state: { ca: CaState; gateway: LeafState; logic: LeafState };
  changed: { ca: boolean; gateway: boolean; logic: boolean };
  /** When something is due next (a renewal or the next rotation phase), epoch ms. */
  nextCheckMs: number;
  /** What happened, one sentence each, for Events. */
  notes: string[];
}

/** Leaves and the CA are renewed at two thirds of their lifetime. */
export const RENEW_AT_FRACTION = 2 / 3;
/** The CA lives this many leaf lifetimes: a CA rotation is rare and staged. */
export const CA_LIFETIME_LEAVES = 8;

/** Kubelet sync of Secret volumes (60 s by default, plus its cache TTL) and the 10 s re-read, with margin. */
export const DEFAULT_PROPAGATION_MS = 180_000;

/** The propagation wait for a lifetime: capped at a sixth of it, so short test lifetimes still rotate in time. */
export function propagationFor(leafLifetimeMs: number): number {
  return Math.min(DEFAULT_PROPAGATION_MS, Math.floor(leafLifetimeMs / 6));
}

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

function keyPem(k: KeyObject): string {
  return k.export({ type: "pkcs8", format: "pem" }) as string;
}

/** Backdated a little against clock skew between nodes, never more than a tenth of the lifetime. */
function notBefore(nowMs: number, lifetimeMs: number): Date {
  return new Date(nowMs - Math.min(60_000, Math.floor(lifetimeMs / 10)));
}

/** A CA's common name; the date tells a rotation's two CAs apart (chain building picks by name first). */
export function caSubject(namespace: string, chatCluster: string, nowMs: number): string {
  return `chatcluster internal CA ${namespace}/${chatCluster} ${new Date(nowMs).toISOString().slice(0, 19)}Z`;
}

export function issueCa(nowMs: number, lifetimeMs: number, subject: string): KeyPairPem {
  const { privateKey, publicKey } = newKey();
  const der = writeCertificate({
    subject,
    publicKey,
    notBefore: notBefore(nowMs, lifetimeMs),
    notAfter: new Date(nowMs + lifetimeMs),
    ca: true,
    signingKey: privateKey,
  });
  return { cert: pem(der), key: keyPem(privateKey) };
}

/** A tier's leaf signed by `signer`, never outliving it. */
export function issueLeaf(signer: KeyPairPem, tier: Tier, p: PkiPolicy, nowMs: number): KeyPairPem {
  const ca = new X509Certificate(signer.cert);
  const { privateKey, publicKey } = newKey();
  const name = tierDnsName(tier, p.namespace, p.chatCluster);
  const der = writeCertificate({
    subject: name,
    publicKey,
    notBefore: notBefore(nowMs, p.leafLifetimeMs),
    notAfter: new Date(Math.min(nowMs + p.leafLifetimeMs, Date.parse(ca.validTo))),
    ca: false,
    dnsNames: [name],
    extendedKeyUsage: [TIER_USAGE[tier]],
    issuer: { subject: ca.subject.replace(/^CN=/, ""), publicKey: ca.publicKey },
    signingKey: createPrivateKey(signer.key),
  });
  return { cert: pem(der), key: keyPem(privateKey) };
}

/** When a certificate is due for renewal (epoch ms); undefined when it cannot be read or its key does not match. */
export function renewAtMs(pair: KeyPairPem): number | undefined {
  try {
    const c = new X509Certificate(pair.cert);
    if (!c.checkPrivateKey(createPrivateKey(pair.key))) return undefined;
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    return from + (to - from) * RENEW_AT_FRACTION;
  } catch {
    return undefined;
  }
}

function signedBy(leaf: KeyPairPem, signer: KeyPairPem, tier: Tier, p: PkiPolicy): boolean {
  try {
    const c = new X509Certificate(leaf.cert);
    const ca = new X509Certificate(signer.cert);
    const name = tierDnsName(tier, p.namespace, p.chatCluster);
    return c.checkIssued(ca) && c.verify(ca.publicKey) && c.checkHost(name, { subject: "never" }) === name;
  } catch {
    return false;
  }
}

export function planPki(state: PkiState, p: PkiPolicy, nowMs: number): PkiPlan {
  const notes: string[] = [];
  const caLifetime = p.leafLifetimeMs * CA_LIFETIME_LEAVES;
  const subject = caSubject(p.namespace, p.chatCluster, nowMs);
  let ca = state.ca;
  let caChanged = false;
  const caRenewAt = ca === undefined ? undefined : renewAtMs(ca);
  if (ca === undefined || caRenewAt === undefined) {
    ca = issueCa(nowMs, caLifetime, subject);
    caChanged = true;
    // A first CA is part of creating the ChatCluster: no Event of its own (they are rate-limited per object).
    if (state.ca !== undefined)
      notes.push("the internal CA could not be read: replaced it, the leaves are reissued at once");
  } else if (ca.rotation === undefined && nowMs >= caRenewAt) {
    ca = {
      ...issueCa(nowMs, caLifetime, subject),
      previous: { cert: ca.cert, key: ca.key },
      rotation: { phase: "bundle", sinceMs: nowMs },
    };
    caChanged = true;
    notes.push("the internal CA is due for renewal: both CAs are trusted from now on, the leaves follow");
  } else if (ca.rotation?.phase === "bundle" && nowMs >= ca.rotation.sinceMs + p.propagationMs) {
    ca = { ...ca, rotation: { phase: "leaves", sinceMs: nowMs } };
    caChanged = true;
    notes.push("every pod trusts the new internal CA: reissuing the leaves from it");
  } else if (ca.rotation?.phase === "leaves" && nowMs >= ca.rotation.sinceMs + p.propagationMs) {
    ca = { cert: ca.cert, key: ca.key };
    caChanged = true;
    notes.push("every pod presents a leaf of the new internal CA: the previous CA is no longer trusted");
  }
  const signer = ca.rotation?.phase === "bundle" && ca.previous !== undefined ? ca.previous : ca;
  const bundle = ca.previous === undefined ? ca.cert : `${ca.cert}${ca.previous.cert}`;
  const changed = { ca: caChanged, gateway: false, logic: false };
  const leaves = {} as Record<Tier, LeafState>;
  let nextCheckMs = renewAtMs(ca) ?? nowMs;
  if (ca.rotation !== undefined) nextCheckMs = Math.min(nextCheckMs, ca.rotation.sinceMs + p.propagationMs);
  for (const tier of ["gateway", "logic"] as const) {
    const have = state[tier];
    const due = have === undefined ? undefined : renewAtMs(have);
    let leaf: LeafState;
    if (have === undefined || due === undefined || nowMs >= due || !signedBy(have, signer, tier, p)) {
      leaf = { ...issueLeaf(signer, tier, p, nowMs), bundle };
      changed[tier] = true;
      if (have !== undefined && due !== undefined && nowMs >= due)
        notes.push(`renewed the ${tier} certificate`);
    } else {
      leaf = have.bundle === bundle ? have : { ...have, bundle };
      if (leaf !== have) changed[tier] = true;
    }
    leaves[tier] = leaf;
    nextCheckMs = Math.min(nextCheckMs, renewAtMs(leaf) ?? nowMs);
  }
  return { state: { ca, gateway: leaves.gateway, logic: leaves.logic }, changed, nextCheckMs, notes };
}
