/**
 * What to do with a ChatCluster's internal token Secret, decided from
 * observed state alone (pure; internal-token-step.ts carries it out).
 *
 * The Secret holds `token` (presented by logic, accepted by gateways) and,
 * during a rotation, `previous`. Each pod reads both when it starts, and both
 * pod templates carry the token's generation, so a new token rolls logic,
 * then the gateways one drained pod at a time. Pods started before the
 * rotation know only the old token; pods started after it know both, and
 * gateways accept either while logic falls back to `previous` when a gateway
 * refuses the current one (secret-rotation.test.ts). Every logic pod keeps
 * reaching every gateway throughout. Once every pod of both tiers runs the new
 * generation, `previous` is dropped: pods started from then on know only the
 * new token.
 *
 * A second rotation waits for the first to finish: otherwise a pod started
 * before the first (old token only) and one started after the second (newer
 * and new) would share no token.
 */

export interface TokenSecretView {
  token: string;
  previous: string | undefined;
  /** Generation of `token`; 0 for a token never rotated (no annotation). */
  generation: number | undefined;
  /** The value of the rotation request this token answered, if any. */
  answered: string | undefined;
}

export interface TokenPlanInput {
  /** The Secret as cached; undefined when it does not exist. */
  secret: TokenSecretView | undefined;
  /** The last state of a Secret that was deleted, as the operator saw it go. */
  retired: { token: string; previous: string | undefined; generation: number } | undefined;
  /** The gateway StatefulSet or the logic Deployment exists: pods may hold the token. */
  workloadsExist: boolean;
  /** The highest token generation on the live pod templates (0 when none says). */
  templateGeneration: number;
  /** The token generation recorded in status (0 when none). */
  statusGeneration: number;
  /** The last rotation request recorded in status as answered. */
  statusAnswered: string | undefined;
  /** The ChatCluster's chatcluster.io/rotate-internal-token annotation. */
  requested: string | undefined;
}

export type TokenAction =
  /** Nothing to write. */
  | { kind: "keep" }
  /**
   * Create the Secret with `token` (undefined: a new one); `previous` keeps the
   * pods that hold it reachable.
   */
  | {
      kind: "create";
      token: string | undefined;
      generation: number;
      previous: string | undefined;
      answered: string | undefined;
    }
  /** Replace the token with a new one and keep the current one as `previous`. */
  | { kind: "rotate"; generation: number; answered: string }
  /**
   * A Secret made by hand without the generation: record the one the pods run
   * and the request already answered, rolling nothing.
   */
  | { kind: "adopt"; generation: number; answered: string | undefined }
  /** The Secret is gone with a token no one remembers while pods hold it: create nothing. */
  | { kind: "lost"; generation: number };

/** What the planner decided, and why a requested rotation waits, if it does. */
export interface TokenPlan {
  action: TokenAction;
  /** A rotation was asked for while another one is rolling out; it starts when that one is done. */
  waiting: boolean;
}

export function planToken(i: TokenPlanInput): TokenPlan {
  const known = Math.max(i.templateGeneration, i.statusGeneration);
  const s = i.secret;
  if (s === undefined) {
    const r = i.retired;
    if (r !== undefined && i.workloadsExist) {
      // Deleted mid-rotation: pods of both tokens run, so a third would strand the oldest. Restore it.
      if (r.previous !== undefined) {
        const restored = { token: r.token, generation: r.generation, previous: r.previous };
        return { action: { kind: "create", ...restored, answered: i.requested }, waiting: true };
      }
      // Deleted to regenerate: a rotation from the token the pods hold.
      const generation = Math.max(known, r.generation) + 1;
      return plan({ kind: "create", token: undefined, generation, previous: r.token, answered: i.requested });
    }
    if (!i.workloadsExist)
      return plan({
        kind: "create",
        token: undefined,
        generation: 0,
        previous: undefined,
        answered: i.requested,
      });
    // Pods hold a token nobody can read back: a new one would cut new pods off from the running ones.
    // Only an explicit new rotation request accepts that.
    if (i.requested !== undefined && i.requested !== i.statusAnswered)
      return plan({
        kind: "create",
        token: undefined,
        generation: known + 1,
        previous: undefined,
        answered: i.requested,
      });
    return plan({ kind: "lost", generation: known });
  }
  if (s.generation === undefined && known > 0)
    return plan({ kind: "adopt", generation: known, answered: s.answered ?? i.statusAnswered });
  const generation = s.generation ?? 0;
  if (i.requested !== undefined && i.requested !== s.answered) {
    if (s.previous !== undefined) return { action: { kind: "keep" }, waiting: true };
    return plan({ kind: "rotate", generation: generation + 1, answered: i.requested });
  }
  return plan({ kind: "keep" });
}

function plan(action: TokenAction): TokenPlan {
  return { action, waiting: false };
}
