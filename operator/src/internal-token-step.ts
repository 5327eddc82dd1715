import type { ObjectCache, V1Deployment, V1Secret, V1StatefulSet } from "@kubernetes/client-node";
import type { Logger } from "../../platform/logger.ts";
import type { ChatCluster, InternalTokenStatus } from "./api/chatcluster-types.ts";
import type { ResolvedSpec } from "./api/defaults.ts";
import { type Attempt, summarizeError } from "./api-error-summary.ts";
import { authFingerprint, getFresh } from "./cluster-reads.ts";
import {
  generateInternalToken,
  internalTokenSecret,
  ROTATE_ANNOTATION,
  readTokenSecret,
  type TokenSecretState,
} from "./desired/internal-token.ts";
import type { ChildNames } from "./desired/names.ts";
import {
  AUTH_REVISION_ANNOTATION,
  type SecretRolls,
  TOKEN_GENERATION_ANNOTATION,
} from "./desired/pod-common.ts";
import type { EventRecorder } from "./event-recorder.ts";
import type { KubeApi } from "./kube-api.ts";
import { resourcePath } from "./kube-api.ts";
import { isConflict } from "./operator-error.ts";
import type { RetiredTokens } from "./retired-tokens.ts";
import { planToken } from "./rollout/token-plan.ts";

/**
 * Carries out token-plan.ts against the API server, and notices new values in
 * the auth Secrets logic reads at start (each new value rolls logic alone, by
 * a revision on its pod template). Runs before the desired state is built,
 * whose pod templates carry the generation and revision it returns.
 */

export interface TokenStepDeps {
  api: KubeApi;
  secrets: ObjectCache<V1Secret>;
  retired: RetiredTokens;
  events: EventRecorder;
  log: Logger;
}

export interface LiveWorkloads {
  statefulSet: V1StatefulSet | undefined;
  deployment: V1Deployment | undefined;
}

export interface TokenStep {
  rolls: SecretRolls;
  status: InternalTokenStatus;
  /** The Secret holds a previous token: finish once both tiers run the current generation. */
  rotating: boolean;
  errors: string[];
}

export async function ensureInternalToken(
  d: TokenStepDeps,
  cc: ChatCluster,
  spec: ResolvedSpec,
  names: ChildNames,
  live: LiveWorkloads,
): Promise<TokenStep> {
  const ns = cc.metadata.namespace ?? "default";
  const name = cc.metadata.name;
  // A miss is read again from the API server: a Secret written moments ago may not be cached yet,
  // and planning from "gone" would report the token lost.
  const cached =
    d.secrets.get(names.internalTokenSecret, ns) ??
    (await getFresh<V1Secret>(d.api, "Secret", ns, names.internalTokenSecret));
  const current = cached === undefined ? undefined : readTokenSecret(cached);
  const requested = cc.metadata.annotations?.[ROTATE_ANNOTATION];
  const answered = cc.status?.internalToken?.lastRotationRequest;
  const plan = planToken({
    secret: current,
    retired: d.retired.get(ns, name),
    workloadsExist: live.statefulSet !== undefined || live.deployment !== undefined,
    templateGeneration: liveRolls(live).tokenGeneration,
    statusGeneration: cc.status?.internalToken?.generation ?? 0,
    statusAnswered: answered,
    requested,
  });
  const errors: string[] = [];
  const attempt = (verb: string): Attempt => ({
    verb,
    kind: "Secret",
    name: names.internalTokenSecret,
    namespace: ns,
  });
  const a = plan.action;

  let next: TokenSecretState | undefined = current;
  switch (a.kind) {
    case "lost": {
      const message = `Secret ${names.internalTokenSecret} is gone and no operator saw its token: running pods hold it, so a new token would leave pods started from now on unable to reach them (they cannot start meanwhile). Recreate it with the old token (kubectl create secret generic ${names.internalTokenSecret} -n ${ns} --from-literal=token=...), or accept a new token and the disruption by setting the annotation ${ROTATE_ANNOTATION} to a new value.`;
      d.events.record(cc, "Warning", "InternalTokenLost", message);
      // The pod templates stay as they are: nothing may roll onto a token that does not exist.
      return {
        rolls: liveRolls(live),
        // The request already answered stays recorded: only a new one may replace the lost token.
        status: {
          generation: a.generation,
          phase: "Lost",
          ...(answered !== undefined ? { lastRotationRequest: answered } : {}),
          message,
        },
        rotating: false,
        errors,
      };
    }
    case "create":
      next = {
        token: a.token ?? generateInternalToken(),
        previous: a.previous,
        generation: a.generation,
        answered: a.answered,
        // Logic keeps the revision it runs; the next fingerprint is only recorded.
        authFingerprint: undefined,
        authRevision: liveRolls(live).authRevision,
      };
      break;
    case "rotate":
      next = {
        ...current!,
        token: generateInternalToken(),
        previous: current!.token,
        generation: a.generation,
        answered: a.answered,
      };
      break;
    case "adopt":
      // Logic keeps the auth revision it runs; the fingerprint of the values is recorded afresh.
      next = {
        ...current!,
        generation: a.generation,
        answered: a.answered,
        authFingerprint: undefined,
        authRevision: liveRolls(live).authRevision,
      };
      break;
    case "keep":
      break;
  }
  const state = next!;
  // A changed value in an auth Secret rolls logic: the first fingerprint is only recorded.
  const fingerprint = await authFingerprint(d.api, ns, authRefs(spec)).catch((err: unknown) => {
    d.log.warn({ err: String(err) }, "could not read the auth Secrets to fingerprint them");
    return undefined;
  });
  let authChanged = false;
  if (fingerprint !== undefined && fingerprint !== state.authFingerprint) {
    authChanged = state.authFingerprint !== undefined;
    next = {
      ...state,
      authFingerprint: fingerprint,
      authRevision: state.authRevision + (authChanged ? 1 : 0),
    };
  }
  const written = next!;

  try {
    if (cached === undefined) {
      await d.api.create(resourcePath("Secret", ns), internalTokenSecret(cc, names, written));
      d.log.info(
        { secret: names.internalTokenSecret, generation: written.generation },
        "created the internal token secret",
      );
    } else if (written !== current) {
      const body = internalTokenSecret(cc, names, written);
      body.metadata = { ...body.metadata, resourceVersion: cached.metadata?.resourceVersion };
      await d.api.replace(resourcePath("Secret", ns, names.internalTokenSecret), body);
    }
  } catch (err) {
    // 409: the cache was behind (another write, or the Secret exists already); the next reconcile reads it again.
    if (!isConflict(err))
      errors.push(summarizeError(err, attempt(cached === undefined ? "create" : "update")));
    // Nothing was written: the templates keep what the running workloads carry.
    return {
      rolls: current === undefined ? liveRolls(live) : rollsOf(current),
      status: statusOf(current, plan.waiting),
      rotating: current?.previous !== undefined,
      errors,
    };
  }
  if (a.kind === "create" && a.previous !== undefined) d.retired.forget(ns, name);
  if (a.kind === "rotate" || (a.kind === "create" && a.previous !== undefined && a.token === undefined)) {
    d.events.record(
      cc,
      "Normal",
      "RotatingInternalToken",
      `New internal token (generation ${a.generation}): logic rolls, then gateways one drained pod at a time; the previous token is accepted until every pod runs the new one`,
    );
  }
  if (authChanged) {
    d.events.record(
      cc,
      "Normal",
      "AuthSecretsChanged",
      "A value logic reads from spec.auth changed: rolling out logic (gateways are not touched)",
    );
  }
  return {
    rolls: rollsOf(written),
    status: statusOf(written, plan.waiting),
    rotating: written.previous !== undefined,
    errors,
  };
}

/** spec.paused: nothing is written; the templates keep what the running workloads carry. */
export function tokenWhilePaused(cc: ChatCluster, live: LiveWorkloads): TokenStep {
  const rolls = liveRolls(live);
  return {
    rolls,
    status: cc.status?.internalToken ?? { generation: rolls.tokenGeneration, phase: "Current" },
    rotating: false,
    errors: [],
  };
}

/**
 * Both tiers run the current generation on every pod: drop the previous token.
 * done is false when nothing was written (a conflict: the Secret's own update
 * wakes the ChatCluster again).
 */
export async function finishRotation(
  d: TokenStepDeps,
  cc: ChatCluster,
  names: ChildNames,
): Promise<{ done: boolean; error?: string }> {
  const ns = cc.metadata.namespace ?? "default";
  const cached = d.secrets.get(names.internalTokenSecret, ns);
  if (cached === undefined) return { done: false };
  const s = readTokenSecret(cached);
  if (s.previous === undefined) return { done: true };
  const body = internalTokenSecret(cc, names, { ...s, previous: undefined });
  body.metadata = { ...body.metadata, resourceVersion: cached.metadata?.resourceVersion };
  try {
    await d.api.replace(resourcePath("Secret", ns, names.internalTokenSecret), body);
  } catch (err) {
    if (isConflict(err)) return { done: false };
    const attempt = { verb: "update", kind: "Secret", name: names.internalTokenSecret, namespace: ns };
    return { done: false, error: summarizeError(err, attempt) };
  }
  d.events.record(
    cc,
    "Normal",
    "InternalTokenRotated",
    `Every pod runs internal token generation ${s.generation ?? 0}; the previous token is no longer given to new pods`,
  );
  return { done: true };
}

function authRefs(spec: ResolvedSpec): { name: string; key: string }[] {
  return [spec.auth.jwt, spec.auth.apiKeys].filter(
    (r): r is { name: string; key: string } => r !== undefined,
  );
}

function rollsOf(s: TokenSecretState | undefined): SecretRolls {
  return { tokenGeneration: s?.generation ?? 0, authRevision: s?.authRevision ?? 0 };
}

function statusOf(s: TokenSecretState | undefined, waiting: boolean): InternalTokenStatus {
  return {
    generation: s?.generation ?? 0,
    phase: s?.previous !== undefined ? "Rotating" : "Current",
    ...(s?.answered !== undefined ? { lastRotationRequest: s.answered } : {}),
    ...(waiting
      ? { message: "a new rotation was requested and starts once the current one has rolled out" }
      : {}),
  };
}

/** The generation and revision the running workloads' templates carry. */
function liveRolls(live: LiveWorkloads): SecretRolls {
  return {
    tokenGeneration: Math.max(templateGeneration(live.statefulSet), templateGeneration(live.deployment)),
    authRevision: Number(
      live.deployment?.spec?.template.metadata?.annotations?.[AUTH_REVISION_ANNOTATION] ?? 0,
    ),
  };
}

function templateGeneration(w: V1StatefulSet | V1Deployment | undefined): number {
  return Number(w?.spec?.template.metadata?.annotations?.[TOKEN_GENERATION_ANNOTATION] ?? 0);
}
