import {
  batchFrameSize,
  type Entry,
  FIELD_DELIVERIES,
  FIELD_REPLIES,
  writeBatchFrame,
} from "./frame-codec.ts";

/** Bounds of one gateway's queue; see GatewayFleetOptions for the meaning of each. */
export interface QueueLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly replyReserveBytes: number;
  readonly maxBatchMessages: number;
  readonly maxBatchBytes: number;
}

/**
 * Unacknowledged delivery batches beyond which partial batches wait for an
 * ack. Waiting at one (plain frame-level Nagle) cut frames ~3x at 10k msg/s
 * but put a full round trip into every message's latency (p50 0.36 ms vs
 * 0.14 ms, p99 1.5-2 ms vs 0.9 ms in bench/push); with the link framed by
 * hand, the extra frames cost little.
 */
const PARTIAL_BATCH_WINDOW = 4;
/**
 * Control frames waiting ahead of the batches. A stream has one hello, one
 * ping of ours and a pong per gateway ping outstanding (the gateway pings
 * once a second, one at a time); more means the gateway keeps pinging a
 * stream it does not read, and the extra pongs are dropped.
 */
export const MAX_CONTROL_FRAMES = 16;
const KIND_DELIVERY = 0;
const KIND_REPLY = 1;
const EMPTY: Entry = {
  head: new Uint8Array(0),
  tail: new Uint8Array(0),
  trail: new Uint8Array(0),
  size: 0,
  wireSize: 0,
};

/** One frame of a write being planned: entries [start, end) of one kind. */
interface Run {
  field: typeof FIELD_DELIVERIES | typeof FIELD_REPLIES;
  start: number;
  end: number;
  bytes: number;
  batchSeq: number;
}

interface InFlight {
  batchSeq: number;
  messages: number;
  bytes: number;
  /** Entries of the batch that want to know when it is acknowledged (server API commands). */
  settle: Settled[] | undefined;
}

/** Told once whether the gateway acknowledged the batch holding the entry (false: the stream or queue went first). */
export type Settled = (acked: boolean) => void;

/** An entry that wants to hear about its acknowledgement. */
export interface SettledEntry extends Entry {
  readonly onSettled: Settled;
}

/** What happened to the frames a stream had taken from the queue when it ended. */
export interface ResetResult {
  /** Deliveries written but not acknowledged: they may or may not have arrived. */
  unacked: number;
}

/**
 * One gateway's bounded outbound queue and the pull side of its stream.
 *
 * Deliveries and replies wait here as encoded entries; a stream pulls frames
 * with pull(), which takes a run of same-kind entries (up to maxBatchMessages /
 * maxBatchBytes) and builds one DeliveryBatch or ReplyBatch frame. The stream
 * pulls the next frame only when the previous write completed, so batches grow
 * by themselves when the link is busy and stay small (one setImmediate of
 * coalescing) when it is idle.
 *
 * The bound counts entries queued plus deliveries written but not yet
 * acknowledged by a DeliveryAck, so a gateway that stops reading (SIGSTOP)
 * holds at most maxBytes here plus the HTTP/2 window in the kernel. Past the
 * bound, new deliveries are refused (the caller drops and counts them);
 * replies may use a further replyReserveBytes so acknowledgements outlive a
 * delivery flood.
 */
export class OutboundQueue {
  readonly #limits: QueueLimits;
  #entries: Entry[] = [];
  #kinds: number[] = [];
  #head = 0;
  #queuedMessages = 0;
  #queuedBytes = 0;
  #inflight: InFlight[] = [];
  #inflightMessages = 0;
  #inflightBytes = 0;
  #control: Uint8Array[] = [];
  #batchSeq = 0;
  /** Entries wait while held: only control frames go out (see hold()). */
  #held = false;
  #waiter: ((frame: Uint8Array) => void) | undefined;
  #flushScheduled = false;
  /**
   * Frames are built here rather than in a new buffer each: the stream pulls
   * the next frame only after node:http2 reports the previous write done
   * (its bytes are in the socket by then), so one buffer per stream is
   * enough, and it saves an allocation the size of a frame (up to
   * maxBatchBytes) per frame. A stream that ends may still have a write of
   * this buffer pending in its session (a reset does not wait for it), so
   * every stream gets a buffer of its own (resetStream).
   */
  #scratch = { buf: Buffer.allocUnsafe(0) };
  /** The frames of the write being built (reused). */
  readonly #runs: Run[] = [];
  /** performance.now() of the first refusal since the queue last had room; 0 when it has room. */
  overflowSince = 0;
  /** Called for each frame built, for metrics. */
  onFrame: ((kind: "deliveries" | "replies", messages: number) => void) | undefined;

  constructor(limits: QueueLimits) {
    this.#limits = limits;
  }

  get messages(): number {
    return this.#queuedMessages + this.#inflightMessages;
  }

  get bytes(): number {
    return this.#queuedBytes + this.#inflightBytes;
  }

  /** Queues an encoded Delivery; false when the bound is reached (drop it and count). */
  offerDelivery(entry: Entry): boolean {
    const size = entry.wireSize;
    if (this.messages >= this.#limits.maxMessages || this.bytes + size > this.#limits.maxBytes) {
      if (this.overflowSince === 0) this.overflowSince = performance.now();
      return false;
    }
    this.#push(entry, KIND_DELIVERY, size);
    return true;
  }

  /** Queues an encoded Reply; false when even the reply reserve is used up. */
  offerReply(entry: Entry): boolean {
    const size = entry.wireSize;
    if (this.bytes + size > this.#limits.maxBytes + this.#limits.replyReserveBytes) return false;
    this.#push(entry, KIND_REPLY, size);
    return true;
  }

  /**
   * Until release(), a stream gets only control frames: a new stream holds
   * what is queued until its GatewayHello says which gateway epoch it reached,
   * so nothing queued for one epoch is ever written to another (the fleet
   * clears the queue when the epoch changed, then releases it).
   */
  hold(): void {
    this.#held = true;
  }

  /** Lets queued entries flow to the current stream again. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.#queuedMessages > 0) this.#wake();
  }

  /**
   * Queues a control frame (hello, ping, pong; an enveloped LogicFrame) ahead
   * of every batch; false (not queued: drop and count it) beyond MAX_CONTROL_FRAMES.
   */
  pushControl(frame: Uint8Array): boolean {
    if (this.#control.length >= MAX_CONTROL_FRAMES) return false;
    this.#control.push(frame);
    this.#wake();
    return true;
  }

  /** A DeliveryAck: batches up to batchSeq left the gateway's hands. */
  ack(throughBatchSeq: number): void {
    let i = 0;
    while (i < this.#inflight.length && (this.#inflight[i] as InFlight).batchSeq <= throughBatchSeq) {
      const f = this.#inflight[i] as InFlight;
      this.#inflightMessages -= f.messages;
      this.#inflightBytes -= f.bytes;
      if (f.settle !== undefined) for (const s of f.settle) s(true);
      i++;
    }
    if (i > 0) {
      this.#inflight.splice(0, i);
      // A partial batch may have been held back for this ack.
      if (this.#queuedMessages > 0) this.#wake();
    }
  }

  /**
   * Starts a new stream: control frames of the old one are discarded, batch
   * numbering restarts at 1 and unacknowledged batches are forgotten (they were
   * on a stream that is gone). Queued entries stay for the next stream.
   */
  resetStream(): ResetResult {
    const unacked = this.#inflightMessages;
    for (const f of this.#inflight) if (f.settle !== undefined) for (const s of f.settle) s(false);
    this.#inflight = [];
    this.#inflightMessages = 0;
    this.#inflightBytes = 0;
    this.#control = [];
    this.#batchSeq = 0;
    this.#waiter = undefined;
    this.#scratch = { buf: Buffer.allocUnsafe(0) };
    return { unacked };
  }

  /** Drops everything queued (gateway removed or restarted); returns how many entries. */
  clear(): number {
    const dropped = this.#queuedMessages;
    for (let i = this.#head; i < this.#entries.length; i++)
      (this.#entries[i] as Partial<SettledEntry>).onSettled?.(false);
    this.#entries = [];
    this.#kinds = [];
    this.#head = 0;
    this.#queuedMessages = 0;
    this.#queuedBytes = 0;
    this.overflowSince = 0;
    return dropped;
  }

  /**
   * Asks for the next frame of the current stream (an enveloped LogicFrame,
   * valid until the next pull): `take` gets it synchronously when one is due,
   * or later, once one is. One pull at a time; resetStream() cancels it.
   */
  pull(take: (frame: Uint8Array) => void): void {
    const frame = this.#take();
    if (frame !== undefined) take(frame);
    else this.#waiter = take;
  }

  #push(entry: Entry, kind: number, size: number): void {
    this.#entries.push(entry);
    this.#kinds.push(kind);
    this.#queuedMessages++;
    this.#queuedBytes += size;
    this.#wake();
  }

  #wake(): void {
    if (this.#waiter === undefined || this.#flushScheduled) return;
    // Coalesce everything queued in this turn of the event loop into one frame.
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const waiter = this.#waiter;
      if (waiter === undefined) return;
      const frame = this.#take();
      if (frame === undefined) return;
      this.#waiter = undefined;
      waiter(frame);
    });
  }

  #fullBatchQueued(): boolean {
    return (
      this.#queuedMessages >= this.#limits.maxBatchMessages || this.#queuedBytes >= this.#limits.maxBatchBytes
    );
  }

  /**
   * The next write: control frames one at a time, else every entry that may
   * go now, as consecutive frames of one kind each in queue order (so a reply
   * never overtakes a delivery queued before it), together at most
   * maxBatchBytes (a first entry alone may be larger). Deliveries and the
   * acks of the sends that caused them thus reach a gateway in one write, and
   * are handled there in one turn.
   */
  #take(): Uint8Array | undefined {
    const control = this.#control.shift();
    if (control !== undefined) return control;
    if (this.#queuedMessages === 0 || this.#held) return undefined;
    const runs = this.#runs;
    runs.length = 0;
    const { maxBatchBytes, maxBatchMessages } = this.#limits;
    let at = this.#head;
    let total = 0;
    let deliveryRuns = 0;
    while (at < this.#entries.length && total < maxBatchBytes) {
      const kind = this.#kinds[at] as number;
      if (
        kind === KIND_DELIVERY &&
        this.#inflight.length + deliveryRuns >= PARTIAL_BATCH_WINDOW &&
        !this.#fullBatchQueued()
      ) {
        // Nagle at the frame level, only once the gateway lags: while this
        // many delivery batches await their ack, only full batches go out and
        // the rest leaves with the next ack. A gateway that keeps up (acks
        // within a round trip) gets every partial batch at once, so a message
        // waits for its own hop only, not for the previous batch's ack too.
        break;
      }
      const limit = Math.min(this.#entries.length, at + maxBatchMessages);
      let end = at;
      let bytes = 0;
      while (end < limit && this.#kinds[end] === kind) {
        const size = (this.#entries[end] as Entry).wireSize;
        if ((runs.length > 0 || end > at) && total + bytes + size > maxBatchBytes) break;
        bytes += size;
        end++;
      }
      if (end === at) break;
      const field = kind === KIND_DELIVERY ? FIELD_DELIVERIES : FIELD_REPLIES;
      const batchSeq = kind === KIND_DELIVERY ? this.#batchSeq + 1 + deliveryRuns++ : 0;
      runs.push({ field, start: at, end, bytes, batchSeq });
      total += batchFrameSize(field, batchSeq, bytes);
      at = end;
    }
    if (runs.length === 0) return undefined;
    if (this.#scratch.buf.length < total)
      this.#scratch.buf = Buffer.allocUnsafe(Math.max(total, 2 * this.#scratch.buf.length));
    const out = this.#scratch.buf;
    let pos = 0;
    for (const r of runs) {
      pos = writeBatchFrame(out, pos, r.field, r.batchSeq, this.#entries, r.start, r.end, r.bytes);
      const count = r.end - r.start;
      if (r.field === FIELD_DELIVERIES) {
        this.#batchSeq = r.batchSeq;
        let settle: Settled[] | undefined;
        for (let i = r.start; i < r.end; i++) {
          const settled = (this.#entries[i] as Partial<SettledEntry>).onSettled;
          if (settled === undefined) continue;
          if (settle === undefined) settle = [settled];
          else settle.push(settled);
        }
        this.#inflight.push({ batchSeq: r.batchSeq, messages: count, bytes: r.bytes, settle });
        this.#inflightMessages += count;
        this.#inflightBytes += r.bytes;
      }
      // Release consumed entries now; the array itself is compacted below.
      for (let i = r.start; i < r.end; i++) this.#entries[i] = EMPTY;
      this.#queuedMessages -= count;
      this.#queuedBytes -= r.bytes;
      this.onFrame?.(r.field === FIELD_DELIVERIES ? "deliveries" : "replies", count);
    }
    this.#head = at;
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#kinds = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#kinds = this.#kinds.slice(this.#head);
      this.#head = 0;
    }
    if (this.bytes < this.#limits.maxBytes && this.messages < this.#limits.maxMessages)
      this.overflowSince = 0;
    return out.subarray(0, pos);
  }
}
