import { create } from "@bufbuild/protobuf";
import { type ClientEvent, GatewayFrameSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { RawFrame } from "../../../protocol/push-stream-service.ts";
import { rawGatewayFrame } from "./frame-codec.ts";
import { hashString, type RendezvousCandidate } from "./rendezvous.ts";

/**
 * One accepted stream from a logic process, after its hello.
 *
 * Outbound frames wait in `#out` until Connect pulls them; the link appends
 * events to `#events` during a tick and flushes them as one ClientEventBatch.
 * `assigned` holds the ids of unanswered events sent on this stream, so they
 * can be resent elsewhere when it ends.
 */
export class LogicStream implements RendezvousCandidate {
  readonly id: string;
  readonly idHash: number;
  readonly epoch: string;
  readonly serial: number;
  readonly assigned = new Set<bigint>();
  lastReceivedAt = performance.now();
  pingNonce = 0n;
  pingSentAt = 0;
  /** Highest batch_seq handed to the edge and not yet acknowledged. */
  ackThrough = 0n;
  ackDue = false;
  closed = false;
  #events: ClientEvent[] = [];
  #out: RawFrame[] = [];
  #ack: RawFrame | undefined;
  #pongs: RawFrame[] = [];
  #waiter: ((r: IteratorResult<RawFrame>) => void) | undefined;
  #error: Error | undefined;
  #ended = false;

  constructor(logicId: string, epoch: string, serial: number) {
    this.id = logicId;
    this.idHash = hashString(logicId);
    this.epoch = epoch;
    this.serial = serial;
  }

  get hasEvents(): boolean {
    return this.#events.length > 0;
  }

  queueEvent(event: ClientEvent): void {
    this.#events.push(event);
  }

  /** Moves the tick's events into one frame; returns how many. */
  flushEvents(): number {
    const events = this.#events;
    if (events.length === 0) return 0;
    this.#events = [];
    this.push(rawGatewayFrame(create(GatewayFrameSchema, { kind: { case: "events", value: { events } } })));
    return events.length;
  }

  push(frame: RawFrame): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ done: false, value: frame });
    } else {
      this.#out.push(frame);
    }
  }

  /**
   * Control frames jump the queue of event frames: logic holds partial
   * delivery batches until their ack and measures round trips with pongs, so
   * neither may wait behind a backlog of client events. Only the newest ack
   * is kept (it acknowledges everything before it).
   */
  pushControl(frame: RawFrame, kind: "ack" | "pong"): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ done: false, value: frame });
    } else if (kind === "ack") {
      this.#ack = frame;
    } else {
      this.#pongs.push(frame);
    }
  }

  #nextQueued(): RawFrame | undefined {
    const ack = this.#ack;
    if (ack !== undefined) {
      this.#ack = undefined;
      return ack;
    }
    return this.#pongs.shift() ?? this.#out.shift();
  }

  /** Ends the outbound side: cleanly without error, or with the status logic will see. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#events = [];
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ done: true, value: undefined });
  }

  /** What the Connect handler yields; throws the end() error once drained. */
  async *frames(): AsyncGenerator<RawFrame> {
    for (;;) {
      const frame = this.#nextQueued();
      if (frame !== undefined) {
        yield frame;
        continue;
      }
      if (this.#ended) break;
      const r = await new Promise<IteratorResult<RawFrame>>((resolve) => {
        this.#waiter = resolve;
      });
      if (r.done === true) break;
      yield r.value;
    }
    if (this.#error !== undefined) throw this.#error;
  }
}
