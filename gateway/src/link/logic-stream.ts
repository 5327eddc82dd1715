import type { ConnectError } from "@connectrpc/connect";
import { eventBatchFrame } from "./event-encoder.ts";
import type { LogicCall } from "./logic-call.ts";
import { hashString, type RendezvousCandidate } from "./rendezvous.ts";

/** Pongs queued behind a stream logic does not read; more are dropped (logic pings one at a time). */
const MAX_QUEUED_PONGS = 4;
/** Frames ready together are joined into one write of at most about this many bytes. */
const MAX_JOINED_WRITE_BYTES = 256 * 1024;

/** Bounds of a stream's outbound side and what happens at them. */
export interface StreamBacklog {
  /** Bytes of frames waiting while the call is backpressured. */
  readonly maxBacklogBytes: number;
  /** The backlog would pass its bound: the link ends the stream (called once, later in the turn). */
  readonly onBacklogFull: () => void;
  /** A pong was dropped. */
  readonly onControlDropped: () => void;
}

/**
 * One accepted stream from a logic process, after its hello.
 *
 * Outbound frames (enveloped GatewayFrames) are written to the call at once
 * and wait in `#out` only while the call is backpressured, up to
 * maxBacklogBytes: a logic process that stops reading gets its stream ended
 * (its unanswered events go to other streams; it reconnects and gets a fresh
 * snapshot) rather than costing unbounded memory. The link appends events to
 * `#events` during a tick and flushes them as one ClientEventBatch.
 * `assigned` holds the ids of unanswered events sent on this stream, so they
 * can be resent elsewhere when it ends.
 */
export class LogicStream implements RendezvousCandidate {
  readonly id: string;
  readonly idHash: number;
  readonly epoch: string;
  /** The logic process's software version, from its hello. */
  readonly version: string;
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
  readonly #backlog: StreamBacklog;
  /** Encoded ClientEvents of this tick. */
  #events: Uint8Array[] = [];
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #overflowed = false;
  #ack: Uint8Array | undefined;
  #pongs: Uint8Array[] = [];
  #blocked = false;
  #corked = 0;
  #error: ConnectError | undefined;
  #ending = false;

  constructor(
    logicId: string,
    epoch: string,
    version: string,
    serial: number,
    call: LogicCall,
    backlog: StreamBacklog,
  ) {
    this.id = logicId;
    this.version = version;
    this.idHash = hashString(logicId);
    this.epoch = epoch;
    this.serial = serial;
    this.#call = call;
    this.#backlog = backlog;
    call.onDrain = () => {
      this.#blocked = false;
      this.#pump();
    };
  }

  get hasEvents(): boolean {
    return this.#events.length > 0;
  }

  queueEvent(encoded: Uint8Array): void {
    this.#events.push(encoded);
  }

  /** Moves the tick's events into one frame; returns how many. */
  flushEvents(): number {
    const events = this.#events;
    if (events.length === 0) return 0;
    this.#events = [];
    this.push(eventBatchFrame(events));
    return events.length;
  }

  push(frame: Uint8Array): void {
    if (this.#ending || this.#overflowed) return;
    if (this.#blocked && this.#outBytes + frame.byteLength > this.#backlog.maxBacklogBytes) {
      // Dropping one frame would break what logic sees (a gap in interest
      // versions, events never sent): the whole stream goes instead.
      this.#overflowed = true;
      queueMicrotask(this.#backlog.onBacklogFull);
      return;
    }
    this.#out.push(frame);
    this.#outBytes += frame.byteLength;
    this.#pump();
  }

  /** Bytes waiting for the call to drain. */
  get backlogBytes(): number {
    return this.#outBytes;
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
    else if (this.#pongs.length < MAX_QUEUED_PONGS) this.#pongs.push(frame);
    else this.#backlog.onControlDropped();
    this.#pump();
  }

  #nextQueued(): Uint8Array | undefined {
    const ack = this.#ack;
    if (ack !== undefined) {
      this.#ack = undefined;
      return ack;
    }
    const pong = this.#pongs.shift();
    if (pong !== undefined) return pong;
    const frame = this.#out.shift();
    if (frame !== undefined) this.#outBytes -= frame.byteLength;
    return frame;
  }

  /**
   * Until uncork(), frames only queue: the link corks a stream while it
   * flushes a turn's events and delivery ack, so they leave as one write.
   */
  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked > 0 && --this.#corked === 0) this.#pump();
  }

  #pump(): void {
    if (this.#corked > 0) return;
    while (!this.#blocked) {
      const first = this.#nextQueued();
      if (first === undefined) break;
      let frame = first;
      let next = this.#nextQueued();
      if (next !== undefined) {
        // Frames ready together go out as one write (one HTTP/2 DATA frame, one read in logic).
        const parts = [first];
        let bytes = first.byteLength;
        while (next !== undefined) {
          parts.push(next);
          bytes += next.byteLength;
          next = bytes < MAX_JOINED_WRITE_BYTES ? this.#nextQueued() : undefined;
        }
        frame = Buffer.concat(parts, bytes);
      }
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

  /** Drops everything queued and resets the call: for a peer that does not read or answer. */
  abort(): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#events = [];
    this.#out = [];
    this.#outBytes = 0;
    this.#pongs = [];
    this.#ack = undefined;
    this.#call.abort();
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
