import { randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { ChatCluster } from "../api/chatcluster-types.ts";
import { type ChildNames, childMeta } from "./names.ts";

/** The Secret key holding the shared token for the gateways' internal port. */
export const INTERNAL_TOKEN_KEY = "token";

export function generateInternalToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * Created once per ChatCluster and never rewritten (the operator only creates
 * it when missing), so every gateway and logic pod shares one token across
 * operator restarts. Delete the Secret to rotate: it is recreated and pods
 * pick it up on their next restart.
 */
export function internalTokenSecret(cc: ChatCluster, names: ChildNames, token: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMeta(cc, names.internalTokenSecret, "config"),
    type: "Opaque",
    stringData: { [INTERNAL_TOKEN_KEY]: token },
  };
}
