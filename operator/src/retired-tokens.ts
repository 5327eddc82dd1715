import type { V1Secret } from "@kubernetes/client-node";
import { readTokenSecret } from "./desired/internal-token.ts";
import { INSTANCE_LABEL } from "./desired/names.ts";

/** What a deleted token Secret held. */
export interface Retired {
  token: string;
  previous: string | undefined;
  generation: number;
}

/** Memory bound: deleted token Secrets remembered at once. */
const MAX_REMEMBERED = 1000;

/**
 * The last token of each internal token Secret that was deleted, as this
 * process's informer saw it go (every operator replica runs the informer, so
 * a standby that takes over remembers too). Deleting the Secret is how a user
 * asks for a fresh token; the operator then rotates from the token the
 * running pods hold instead of cutting new pods off from them. Nothing is
 * written anywhere: a Secret deleted while no operator runs is "lost"
 * (token-plan.ts).
 */
export class RetiredTokens {
  readonly #tokens = new Map<string, Retired>();

  /** From the Secret informer's delete handler. */
  record(secret: V1Secret): void {
    const ns = secret.metadata?.namespace;
    const instance = secret.metadata?.labels?.[INSTANCE_LABEL];
    if (ns === undefined || instance === undefined || secret.metadata?.name !== `${instance}-internal-token`)
      return;
    const s = readTokenSecret(secret);
    if (s.token === "") return;
    if (this.#tokens.size >= MAX_REMEMBERED) {
      const oldest = this.#tokens.keys().next().value;
      if (oldest !== undefined) this.#tokens.delete(oldest);
    }
    this.#tokens.set(`${ns}/${instance}`, {
      token: s.token,
      previous: s.previous,
      generation: s.generation ?? 0,
    });
  }

  get(ns: string, chatcluster: string): Retired | undefined {
    return this.#tokens.get(`${ns}/${chatcluster}`);
  }

  /** Once a new Secret holds it as its previous token, or the ChatCluster is gone. */
  forget(ns: string, chatcluster: string): void {
    this.#tokens.delete(`${ns}/${chatcluster}`);
  }
}
