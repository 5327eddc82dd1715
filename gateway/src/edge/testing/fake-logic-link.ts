import { create } from "@bufbuild/protobuf";
import {
  type ClientEvent,
  type Delivery,
  DeliverySchema,
  type Reply,
  ReplySchema,
} from "../../../../gen/chatcluster/v1/gateway_stream_pb.js";
import {
  encodeAckFrame,
  encodeErrorFrame,
  encodeJoinedFrame,
  encodeMessageFrame,
} from "../../../../protocol/client-frames.ts";
import type { EdgeSink, LogicLink } from "../../logic-link.ts";

/**
 * TEST ONLY: an in-process stand-in for logic behind a LogicLink, for edge
 * tests and benchmarks. It plays logic's part of the protocol with an
 * in-memory room log:
 * - auth: token `user:<id>` is accepted (read/write everything); `reader:<id>:<patterns>`
 *   may read only the comma-separated room patterns; `expiring:<id>:<ms>`
 *   is accepted and expires after <ms>; `silent:<id>` is never answered; any
 *   other token is refused with 4001.
 * - join: history after `since` (or the last `limit`), a joined frame, last_seq;
 *   rooms starting with `private.` are refused with a forbidden error.
 * - send: next seq/prev, one message frame delivered to the room, an ack
 *   (a repeated client id is acked again with its original seq and not re-delivered).
 * Events are answered in batches on the next turn, like the real stream.
 */
export class FakeLogic {
  readonly links = new Set<FakeLogicLink>();
  readonly logs = new Map<string, { seqs: number[]; frames: Uint8Array[] }>();
  readonly acked = new Map<string, { room: string; seq: number }>();

  /** A link for one more gateway edge, sharing this room log. */
  link(): FakeLogicLink {
    return new FakeLogicLink(this);
  }

  /** Server-side publish (like logic's publish API): stores and delivers; returns the seq. */
  publish(room: string, from: string, id: string, bodyJson: string): number {
    const deliveries: Delivery[] = [];
    const seq = this.append(room, from, id, new TextEncoder().encode(bodyJson), deliveries);
    this.fanOut(deliveries);
    return seq;
  }

  headSeq(room: string): number {
    const log = this.logs.get(room);
    return log ? (log.seqs[log.seqs.length - 1] ?? 0) : 0;
  }

  /** Hands each delivery to every gateway with interest in its room. */
  fanOut(deliveries: Delivery[]): void {
    if (deliveries.length === 0) return;
    for (const l of this.links) {
      const mine = deliveries.filter((d) => l.interest.has(d.room));
      if (mine.length > 0) l.sink?.deliver(mine);
    }
  }

  append(room: string, from: string, id: string, body: Uint8Array, out: Delivery[]): number {
    let log = this.logs.get(room);
    if (!log) {
      log = { seqs: [], frames: [] };
      this.logs.set(room, log);
    }
    const prev = log.seqs[log.seqs.length - 1] ?? 0;
    const seq = prev + 1;
    const payload = encodeMessageFrame({ room, seq, prev, id, from, ts: Date.now(), bodyJson: body });
    log.seqs.push(seq);
    log.frames.push(payload);
    out.push(create(DeliverySchema, { room, seq: BigInt(seq), payload }));
    return seq;
  }
}

/** One gateway's link to the shared FakeLogic. */
export class FakeLogicLink implements LogicLink {
  readonly logic: FakeLogic;
  sink: EdgeSink | null = null;
  /** When false, send() refuses like a link with no logic stream. */
  accepting = true;
  /** When true, joins are answered with a retryable `unavailable` error (a store outage). */
  failJoins = false;
  /** Events of these kinds are kept in `unanswered` instead of answered (a logic process that hangs). */
  readonly silent = new Set<ClientEvent["kind"]["case"]>();
  readonly unanswered: ClientEvent[] = [];
  streams = 1;
  draining = false;
  readonly interest = new Set<string>();
  readonly counts = { auth: 0, send: 0, join: 0, leave: 0, closed: 0 };
  readonly closedCodes: number[] = [];
  private queue: ClientEvent[] = [];
  private scheduled = false;

  constructor(logic: FakeLogic = new FakeLogic()) {
    this.logic = logic;
    logic.links.add(this);
  }

  send(event: ClientEvent, _routingKey: string): boolean {
    if (!this.accepting) return false;
    this.queue.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.process());
    }
    return true;
  }
  roomAdded(room: string): void {
    this.interest.add(room);
  }
  roomRemoved(room: string): void {
    this.interest.delete(room);
  }
  /** What backlogMs() answers. */
  backlog = 0;

  backlogMs(): number {
    return this.backlog;
  }

  connectedStreams(): number {
    return this.streams;
  }
  setDraining(draining: boolean): void {
    this.draining = draining;
  }

  publish(room: string, from: string, id: string, bodyJson: string): number {
    return this.logic.publish(room, from, id, bodyJson);
  }

  headSeq(room: string): number {
    return this.logic.headSeq(room);
  }

  private process(): void {
    this.scheduled = false;
    const events = this.queue;
    this.queue = [];
    const replies: Reply[] = [];
    const deliveries: Delivery[] = [];
    for (const ev of events) {
      if (this.silent.has(ev.kind.case)) {
        this.unanswered.push(ev);
        continue;
      }
      const base = { eventId: ev.eventId, connectionId: ev.connectionId };
      switch (ev.kind.case) {
        case "auth": {
          this.counts.auth++;
          const token = ev.kind.value.token;
          const [kind, user, arg] = token.split(":");
          if (kind === "silent") break;
          if ((kind === "user" || kind === "expiring" || kind === "reader") && user) {
            const expiresAtMs = kind === "expiring" ? BigInt(Date.now() + Number(arg)) : 0n;
            const read = kind === "reader" ? (arg ?? "").split(",") : [">"];
            const principal = { userId: user, read, write: [">"], expiresAtMs };
            replies.push(
              create(ReplySchema, { ...base, kind: { case: "auth", value: { ok: true, principal } } }),
            );
          } else {
            const value = {
              ok: false,
              errorCode: "unauthorized",
              errorMessage: "bad token",
              closeCode: 4001,
            };
            replies.push(create(ReplySchema, { ...base, kind: { case: "auth", value } }));
          }
          break;
        }
        case "join": {
          this.counts.join++;
          const { room, since, limit } = ev.kind.value;
          if (room.startsWith("private.") || this.failJoins) {
            const frame = this.failJoins
              ? encodeErrorFrame({ code: "unavailable", message: "store unavailable", id: room })
              : encodeErrorFrame({ code: "forbidden", message: "may not read this room", id: room });
            replies.push(
              create(ReplySchema, { ...base, kind: { case: "join", value: { ok: false, room, frame } } }),
            );
            break;
          }
          const log = this.logic.logs.get(room) ?? { seqs: [], frames: [] };
          let from = 0;
          if (since !== undefined) {
            const s = Number(since);
            while (from < log.seqs.length && (log.seqs[from] as number) <= s) from++;
          } else {
            from = Math.max(0, log.seqs.length - (limit || 50));
          }
          const messages = log.frames.slice(from);
          const head = log.seqs[log.seqs.length - 1] ?? 0;
          const lastSeq = messages.length > 0 ? head : since !== undefined ? Number(since) : head;
          const frame = encodeJoinedFrame({ room, lastSeq, complete: true, messages });
          replies.push(
            create(ReplySchema, {
              ...base,
              kind: { case: "join", value: { ok: true, room, lastSeq: BigInt(lastSeq), frame } },
            }),
          );
          break;
        }
        case "send": {
          this.counts.send++;
          const { room, clientMsgId, body } = ev.kind.value;
          const from = ev.principal?.userId ?? "";
          const key = `${from}\u0000${clientMsgId}`;
          let done = this.logic.acked.get(key);
          if (!done) {
            done = { room, seq: this.logic.append(room, from, clientMsgId, body, deliveries) };
            this.logic.acked.set(key, done);
          }
          const frame = encodeAckFrame({ id: clientMsgId, room: done.room, seq: done.seq });
          replies.push(create(ReplySchema, { ...base, kind: { case: "frame", value: frame } }));
          break;
        }
        case "leave":
          this.counts.leave++;
          replies.push(create(ReplySchema, { ...base, kind: { case: "done", value: {} } }));
          break;
        case "closed":
          this.counts.closed++;
          this.closedCodes.push(ev.kind.value.closeCode);
          break;
        default:
          break;
      }
    }
    this.logic.fanOut(deliveries);
    if (replies.length > 0) this.sink?.reply(replies);
  }
}
