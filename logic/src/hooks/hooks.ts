import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { ChatHooks, HookIdentity, HookRefusal } from "../../../gen/chatcluster/v1/chat_hooks_pb.js";
import { HookIdentitySchema } from "../../../gen/chatcluster/v1/chat_hooks_pb.js";
import type { Principal } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { CLOSE_CODES, ERROR_CODES } from "../../../protocol/index.ts";
import { matchesAny, patternProblem } from "../../../protocol/room-pattern.ts";
import type { Identity } from "../auth/authenticator.ts";
import type { ConnectMode } from "./hook-flags.ts";
import { BadHookResponse, type GateResult, HookGate } from "./hook-gate.ts";
import type { HookMetrics } from "./hook-metrics.ts";
import type { HookSettings } from "./hook-settings.ts";

/** Retry hint of a refusal caused by a failed hook: about a restart of the hooks service. */
export const HOOK_RETRY_AFTER_MS = 1000;
/** Codes a hook may give the client: stable identifiers, like the protocol's own. */
const REFUSAL_CODE = /^[a-z][a-z0-9_]{0,31}$/;
const MAX_REFUSAL_MESSAGE = 200;
const MAX_PATTERNS = 256;

/** A refusal for the client: its error frame's code and message, and a retry hint for retryable ones. */
export interface HookRefusalOut {
  readonly code: string;
  readonly message: string;
  readonly retryAfterMs?: number;
}

export type ConnectOutcome =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly refusal: HookRefusalOut; readonly closeCode: number };
export type JoinOutcome =
  | { readonly ok: true; readonly dataJson?: string }
  | { readonly ok: false; readonly refusal: HookRefusalOut };
export type SendOutcome =
  | { readonly ok: true; readonly bodyText?: string }
  | { readonly ok: false; readonly refusal: HookRefusalOut };
export type RpcOutcome =
  | { readonly ok: true; readonly resultJson: string }
  | { readonly ok: false; readonly refusal: HookRefusalOut };

/** Who acts, as the hooks see them: the connection's principal and its client-visible id. */
export interface HookCaller {
  readonly principal: Principal;
  /** `<gateway id>/<connection id>`. */
  readonly connection: string;
}

/**
 * The hooks to the team's backend (docs/hooks.md): each decides one kind of
 * event through its own HookGate (timeout, concurrency, failure policy). Each
 * method resolves (never rejects) with what the handler does next: the
 * hook's answer, or the failure policy's.
 */
export class Hooks {
  readonly connectMode: ConnectMode;
  readonly #client: Client<typeof ChatHooks>;
  readonly #s: HookSettings;
  readonly #maxBodyBytes: number;
  readonly #gates: { connect: HookGate; join: HookGate; send: HookGate; rpc: HookGate };

  constructor(client: Client<typeof ChatHooks>, s: HookSettings, metrics: HookMetrics, maxBodyBytes: number) {
    this.#client = client;
    this.#s = s;
    this.connectMode = s.connect.mode;
    this.#maxBodyBytes = maxBodyBytes;
    this.#gates = {
      connect: new HookGate("connect", s.connect, metrics),
      join: new HookGate("join", s.join, metrics),
      send: new HookGate("send", s.send, metrics),
      rpc: new HookGate("rpc", s.rpc, metrics),
    };
  }

  joins(room: string): boolean {
    return matchesAny(this.#s.join.rooms, room);
  }

  sends(room: string): boolean {
    return matchesAny(this.#s.send.rooms, room);
  }

  answers(method: string): boolean {
    return matchesAny(this.#s.rpc.methods, method);
  }

  /**
   * Mode `after`: `verified` is the token's identity, which the hook may
   * refuse or replace. Mode `instead`: the hook alone decides from the raw token.
   */
  async connect(
    token: string,
    remoteAddress: string,
    refresh: boolean,
    verified?: Identity,
  ): Promise<ConnectOutcome> {
    const r = await this.#gates.connect.run(
      (timeoutMs) =>
        this.#client.connect(
          {
            token,
            remoteAddress,
            refresh,
            ...(verified === undefined ? {} : { identity: hookIdentity(verified) }),
          },
          { timeoutMs },
        ),
      (answer): { value: ConnectOutcome; outcome: "allow" | "refuse" } => {
        if (answer.refuse !== undefined) {
          return {
            value: { ok: false, refusal: refusal(answer.refuse), closeCode: CLOSE_CODES.unauthorized.code },
            outcome: "refuse",
          };
        }
        if (answer.identity !== undefined)
          return { value: { ok: true, identity: identityFrom(answer.identity) }, outcome: "allow" };
        if (verified === undefined)
          throw new BadHookResponse("mode instead: neither an identity nor a refusal");
        return { value: { ok: true, identity: verified }, outcome: "allow" };
      },
    );
    if (r.ok) return r.value;
    // Without a hook answer, mode `instead` has no identity to allow.
    if (this.#s.connect.onFailure === "allow" && verified !== undefined)
      return { ok: true, identity: verified };
    return { ok: false, refusal: unavailable("connect", r), closeCode: CLOSE_CODES.overloaded.code };
  }

  async join(caller: HookCaller, room: string, since: bigint | undefined): Promise<JoinOutcome> {
    const r = await this.#gates.join.run(
      (timeoutMs) =>
        this.#client.join(
          {
            user: principalIdentity(caller.principal),
            connection: caller.connection,
            room,
            ...(since === undefined ? {} : { since }),
          },
          { timeoutMs },
        ),
      (answer): { value: JoinOutcome; outcome: "allow" | "refuse" } => {
        if (answer.refuse !== undefined)
          return { value: { ok: false, refusal: refusal(answer.refuse) }, outcome: "refuse" };
        if (answer.data === undefined) return { value: { ok: true }, outcome: "allow" };
        return { value: { ok: true, dataJson: this.#json(answer.data, "join data") }, outcome: "allow" };
      },
    );
    if (r.ok) return r.value;
    return this.#s.join.onFailure === "allow" ? { ok: true } : { ok: false, refusal: unavailable("join", r) };
  }

  /** A send (editOf 0) or an edit (editOf = the edited seq); `bodyText` is the client's JSON text. */
  async send(
    caller: HookCaller,
    room: string,
    id: string,
    bodyText: string,
    editOf: bigint,
  ): Promise<SendOutcome> {
    const body = jsonValue(bodyText);
    if (body === undefined) {
      return {
        ok: false,
        refusal: {
          code: ERROR_CODES.invalidField.code,
          message: "body is nested too deeply for the send hook",
        },
      };
    }
    const r = await this.#gates.send.run(
      (timeoutMs) =>
        this.#client.send(
          {
            user: principalIdentity(caller.principal),
            connection: caller.connection,
            room,
            id,
            body,
            editOf,
          },
          { timeoutMs },
        ),
      (answer): { value: SendOutcome; outcome: "allow" | "refuse" } => {
        if (answer.refuse !== undefined)
          return { value: { ok: false, refusal: refusal(answer.refuse) }, outcome: "refuse" };
        if (answer.body === undefined) return { value: { ok: true }, outcome: "allow" };
        return { value: { ok: true, bodyText: this.#json(answer.body, "body") }, outcome: "allow" };
      },
    );
    if (r.ok) return r.value;
    return this.#s.send.onFailure === "allow" ? { ok: true } : { ok: false, refusal: unavailable("send", r) };
  }

  async rpc(caller: HookCaller, method: string, paramsText: string): Promise<RpcOutcome> {
    const params = jsonValue(paramsText === "" ? "null" : paramsText);
    if (params === undefined) {
      return {
        ok: false,
        refusal: { code: ERROR_CODES.invalidField.code, message: "params are nested too deeply" },
      };
    }
    const r = await this.#gates.rpc.run(
      (timeoutMs) =>
        this.#client.rpc(
          { user: principalIdentity(caller.principal), connection: caller.connection, method, params },
          { timeoutMs },
        ),
      (answer): { value: RpcOutcome; outcome: "allow" | "refuse" } => {
        if (answer.error !== undefined)
          return { value: { ok: false, refusal: refusal(answer.error) }, outcome: "refuse" };
        const resultJson = answer.result === undefined ? "null" : this.#json(answer.result, "result");
        return { value: { ok: true, resultJson }, outcome: "allow" };
      },
    );
    if (r.ok) return r.value;
    return this.#s.rpc.onFailure === "allow"
      ? { ok: true, resultJson: "null" }
      : { ok: false, refusal: unavailable("rpc", r) };
  }

  /** JSON text of a hook's value, within the body limit. */
  #json(v: Value, what: string): string {
    const text = JSON.stringify(toJson(ValueSchema, v));
    if (Buffer.byteLength(text) > this.#maxBodyBytes)
      throw new BadHookResponse(`${what} larger than ${this.#maxBodyBytes} bytes`);
    return text;
  }
}

/** A failed call under the `refuse` policy: retryable, so the client tries again later. */
function unavailable(hook: string, r: GateResult<unknown> & { ok: false }): HookRefusalOut {
  return {
    code: ERROR_CODES.unavailable.code,
    message: `${hook} hook ${r.cause === "timeout" ? "timed out" : "unavailable"}, retry`,
    retryAfterMs: HOOK_RETRY_AFTER_MS,
  };
}

function refusal(r: HookRefusal): HookRefusalOut {
  const code = REFUSAL_CODE.test(r.code) ? r.code : ERROR_CODES.forbidden.code;
  const message = r.message === "" ? "refused" : r.message.slice(0, MAX_REFUSAL_MESSAGE);
  return { code, message };
}

/** A Value for JSON text, or undefined when it nests too deeply for the conversion's recursion. */
function jsonValue(text: string): Value | undefined {
  try {
    return fromJson(ValueSchema, JSON.parse(text) as JsonValue);
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function hookIdentity(i: Identity): HookIdentity {
  return create(HookIdentitySchema, {
    userId: i.userId,
    read: [...i.read],
    write: [...i.write],
    expiresAtMs: BigInt(i.expiresAtMs),
    tokenId: i.tokenId,
  });
}

function principalIdentity(p: Principal): HookIdentity {
  return create(HookIdentitySchema, {
    userId: p.userId,
    read: p.read,
    write: p.write,
    expiresAtMs: p.expiresAtMs,
    tokenId: p.tokenId,
  });
}

/** The identity a Connect hook decided; checked like a token's claims. */
function identityFrom(h: HookIdentity): Identity {
  if (h.userId.length === 0 || h.userId.length > 256)
    throw new BadHookResponse("identity.user_id must be 1 to 256 characters");
  for (const list of [h.read, h.write]) {
    if (list.length > MAX_PATTERNS) throw new BadHookResponse(`more than ${MAX_PATTERNS} room patterns`);
    for (const p of list) {
      const problem = patternProblem(p);
      if (problem !== undefined) throw new BadHookResponse(`identity: ${problem}`);
    }
  }
  if (h.expiresAtMs < 0n) throw new BadHookResponse("identity.expires_at_ms is negative");
  return {
    userId: h.userId,
    read: Object.freeze([...h.read]),
    write: Object.freeze([...h.write]),
    expiresAtMs: Number(h.expiresAtMs),
    tokenId: h.tokenId.slice(0, 256),
  };
}
