import { create } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { type ClientEvent, GatewayFrameSchema } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { gatewayFrameEnvelope } from "./frame-codec.ts";
import type { LogicCall } from "./logic-call.ts";
import { hashString, type RendezvousCandidate } from "./rendezvous.ts";

/**
 * One accepted stream from a logic process, after its hello.
 *
 * Outbound frames (enveloped GatewayFrames) are written to the call at once
 * and wait in `#out` only while the call is backpressured; the link appends
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
  readonly #call: LogicCall;
  #events: ClientEvent[] = [];
  #out: Uint8Array[] = [];
  #ack: Uint8Array | undefined;
  #pongs: Uint8Array[] = [];
  #blocked = false;
  #error: ConnectError | undefined;
  #ending = false;

  constructor(logicId: string, epoch: string, serial: number, call: LogicCall) {
    this.id = logicId;
    this.idHash = hashString(logicId);
    this.epoch = epoch;
    this.serial = serial;
    this.#call = call;
    call.onDrain = () => {
      this.#blocked = false;
      this.#pump();
    };
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
    this.push(
      gatewayFrameEnvelope(create(GatewayFrameSchema, { kind: { case: "events", value: { events } } })),
    );
    return events.length;
  }

  push(frame: Uint8Array): void {
    if (this.#ending) return;
    this.#out.push(frame);
    this.#pump();
  }

  /**
   * Control frames jump the queue of event frames: logic holds partial
   * delivery batches until their ack and measures round trips with pongs, so
   * neither may wait behind a backlog of client events. Only the newest ack
   * is kept (it acknowledges everything before it).
   */
  pushControl(frame: Uint8Array, kind: "ack" | "pong"): void {
    if (this.#ending) return;
    if (kind === "ack") this.#ack = frame;
    else this.#pongs.push(frame);
    this.#pump();
  }

  #nextQueued(): Uint8Array | undefined {
    const ack = this.#ack;
    if (ack !== undefined) {
      this.#ack = undefined;
      return ack;
    }
    return this.#pongs.shift() ?? this.#out.shift();
  }

  #pump(): void {
    while (!this.#blocked) {
      const frame = this.#nextQueued();
      if (frame === undefined) break;
      if (!this.#call.write(frame)) this.#blocked = true;
    }
    if (
      this.#ending &&
      !this.#blocked &&
      this.#ack === undefined &&
      this.#pongs.length === 0 &&
      this.#out.length === 0
    )
      this.#call.end(this.#error);
  }

  /** Ends the outbound side once what is queued is written: cleanly, or with the status logic will see. */
  end(error?: ConnectError): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#error = error;
    this.#events = [];
    this.#pump();
  }
}
