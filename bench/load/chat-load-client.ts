// A load-generator process: many raw WebSocket connections through the real
// client protocol (auth frame, join, send with acks), cheap per socket so one
// process can hold tens of thousands. Probe connections parse what they get
// (latency from the scheduled send time in each message's body, the seq chain
// per room); the others only count frames. Driven over IPC by LoadFleet
// (load-fleet.ts): init, rate, stats, stop.
import { connect, type Socket } from "node:net";
import * as hdr from "hdr-histogram-js";
import { FrameReader } from "./frame-reader.ts";
import { newHistogram } from "./histogram.ts";
import { signLoadToken } from "./jwt.ts";
import type { ConnectionSpec, GeneratorInit, GeneratorStats, ToGenerator } from "./load-protocol.ts";
import { frameType, KEY, numberAfter, stringAfter } from "./server-frame.ts";
import { clientTextFrame, EMPTY_PONG, upgradeRequest } from "./ws-client-frames.ts";

const RETRYABLE = new Set(["unavailable", "overloaded", "rate_limited", "internal"]);

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
const now = () => performance.timeOrigin + performance.now();

class Conn {
  readonly spec: ConnectionSpec;
  readonly index: number;
  socket: Socket | null = null;
  gateway: number;
  state: "connecting" | "authenticating" | "joining" | "open" | "moving" | "closed" = "connecting";
  /** Last seq seen per room (probes), the resume point. */
  readonly lastSeq = new Map<string, number>();
  /** Rooms being resumed after a gap: live messages wait for the resume's page. */
  readonly resuming = new Set<string>();
  joinsPending = 0;
  /** The server asked us to move (reconnect frame) or drained us (4012): not a disconnect. */
  moving = false;
  attempts = 0;
  everReady = false;

  constructor(spec: ConnectionSpec, index: number) {
    this.spec = spec;
    this.index = index;
    this.gateway = spec.gateway;
  }
}

let init: GeneratorInit;
let conns: Conn[] = [];
let senders: Conn[] = [];
let ready = 0;
let e2e = newHistogram();
let e2eByGateway: hdr.Histogram[] = [];
let ack = newHistogram();
const counters = {
  sent: 0,
  acked: 0,
  deliveries: 0,
  replayed: 0,
  gaps: 0,
  unrecovered: 0,
  duplicates: 0,
  pageOverlaps: 0,
  disconnects: 0,
  moves: 0,
  resumed: 0,
  connectFailures: 0,
  refusedUpgrades: 0,
  skippedSends: 0,
};
let errors: Record<string, number> = {};
/** Wall-clock ms at which each moving client left (after its reconnect hint's delay), for the spread over the drain window. */
let moveTimes: number[] = [];
let framesBase = 0;

// Send scheduling: sends are due at t0 + k / rate; each carries its scheduled
// time as its body, so latency is measured from when it should have left
// (coordinated omission corrected), even when this process fell behind.
const RING = 1 << 20;
const scheduled = new Float64Array(RING);
let rate = 0;
let rateStart = 0;
let rateBase = 0;
let nextK = 0;
let sendTimer: NodeJS.Timeout | null = null;

function frameCount(): number {
  let n = 0;
  for (const c of conns) n += readers.get(c)?.frames ?? 0;
  return n;
}
const readers = new WeakMap<Conn, FrameReader>();

function open(c: Conn): void {
  const g = init.gateways[c.gateway % init.gateways.length] as { host: string; port: number };
  const localAddress = init.localAddresses[c.index % init.localAddresses.length];
  c.state = "connecting";
  c.attempts++;
  // A gap resume asked of the previous socket gets no answer on this one: the
  // joins sent at welcome resume every room from its last seq instead.
  c.resuming.clear();
  const s = connect({ host: g.host, port: g.port, localAddress });
  c.socket = s;
  s.setNoDelay(true);
  let handshake = true;
  let head: Buffer = Buffer.alloc(0);
  const reader = new FrameReader(c.spec.probe, {
    text: (p) => onText(c, p),
    control: (opcode, payload) => {
      if (opcode === 0x9) s.write(EMPTY_PONG);
      else if (opcode === 0x8) {
        // 4012 draining: the gateway closed us at the end of its window; move now (jittered).
        if (payload.length >= 2 && payload.readUInt16BE(0) === 4012) startMove(c, Math.random() * 100);
        s.end();
      }
    },
  });
  const prior = readers.get(c);
  if (prior) framesBase += prior.frames;
  readers.set(c, reader);
  s.on("connect", () => s.write(upgradeRequest(g.host, g.port)));
  s.on("data", (chunk: Buffer) => {
    if (!handshake) {
      reader.push(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) return;
    const status = head.subarray(9, 12).toString();
    if (status !== "101") {
      // Admission refused (503 with Retry-After) or draining: try again later, maybe elsewhere.
      const retry = /Retry-After: (\d+)/i.exec(head.subarray(0, end).toString());
      counters.refusedUpgrades++;
      s.destroy();
      c.socket = null;
      retryLater(c, retry ? Number(retry[1]) * 1000 : 500);
      return;
    }
    handshake = false;
    c.state = "authenticating";
    s.write(
      clientTextFrame(JSON.stringify({ type: "auth", token: signLoadToken(init.jwtSecret, c.spec.user) })),
    );
    const rest = head.subarray(end + 4);
    if (rest.length > 0) reader.push(rest);
  });
  s.on("error", () => {});
  s.on("close", () => {
    if (c.socket !== s) return;
    c.socket = null;
    if (stopping) return;
    if (c.state === "connecting") {
      counters.connectFailures++;
      retryLater(c, 200);
      return;
    }
    if (c.moving) {
      c.moving = false;
      return; // reopened by the move timer
    }
    if (c.everReady) counters.disconnects++;
    retryLater(c, 500);
  });
}

function retryLater(c: Conn, baseMs: number): void {
  c.state = "connecting";
  const delay = Math.min(30_000, baseMs * Math.min(8, c.attempts)) * (0.5 + Math.random());
  setTimeout(() => {
    if (!stopping) open(c);
  }, delay);
}

function onText(c: Conn, p: Buffer): void {
  switch (frameType(p)) {
    case "message":
      onMessage(c, p, 0, true);
      return;
    case "ack": {
      const id = stringAfter(p, KEY.id);
      if (id === undefined) return;
      const k = Number(id);
      counters.acked++;
      const t = scheduled[k & (RING - 1)] as number;
      if (t > 0) ack.recordValue(Math.max(1, Math.round((now() - t) * 1000)));
      return;
    }
    case "welcome": {
      c.state = "joining";
      c.joinsPending = c.spec.rooms.length;
      const s = c.socket;
      if (s === null) return;
      for (const room of c.spec.rooms) {
        const since = c.lastSeq.get(room);
        s.write(
          clientTextFrame(
            JSON.stringify(since === undefined ? { type: "join", room } : { type: "join", room, since }),
          ),
        );
      }
      return;
    }
    case "joined": {
      const room = stringAfter(p, KEY.room);
      if (room === undefined) return;
      // A resume's page: every message in it continues the chain.
      let at = p.indexOf(KEY.message, 10);
      while (at !== -1) {
        onMessage(c, p, at, false);
        at = p.indexOf(KEY.message, at + 1);
      }
      const last = numberAfter(p, KEY.lastSeq);
      const cur = c.lastSeq.get(room);
      if (cur === undefined || cur < last) c.lastSeq.set(room, last);
      if (p.indexOf(KEY.incomplete) !== -1) {
        // Not at the head yet: the next page.
        c.socket?.write(clientTextFrame(JSON.stringify({ type: "join", room, since: c.lastSeq.get(room) })));
        return;
      }
      if (c.resuming.delete(room)) return;
      if (c.state === "joining" && --c.joinsPending === 0) {
        c.state = "open";
        c.attempts = 0;
        if (c.everReady) counters.resumed++;
        else {
          c.everReady = true;
          ready++;
          if (ready === conns.length) process.send?.({ op: "ready", ready });
        }
      }
      return;
    }
    case "error": {
      const code = stringAfter(p, KEY.code) ?? "unknown";
      errors[code] = (errors[code] ?? 0) + 1;
      // A join refused for now (logic busy or restarting): try again after the hint, as the SDK does.
      const id = stringAfter(p, KEY.id);
      if (id !== undefined && RETRYABLE.has(code) && c.spec.rooms.includes(id)) {
        const hint = numberAfter(p, KEY.retryAfterMs);
        const socket = c.socket;
        setTimeout(
          () => {
            if (c.socket !== socket || socket === null) return;
            const since = c.lastSeq.get(id);
            socket.write(
              clientTextFrame(
                JSON.stringify(
                  since === undefined ? { type: "join", room: id } : { type: "join", room: id, since },
                ),
              ),
            );
          },
          (Number.isFinite(hint) ? hint : 500) * (0.5 + Math.random()),
        );
      }
      return;
    }
    case "reconnect": {
      const after = numberAfter(p, KEY.afterMs);
      startMove(c, Number.isFinite(after) ? after : 0);
      return;
    }
    default:
      return;
  }
}

/** Moves a connection to the next gateway after `afterMs`, resuming its rooms from their last seq. */
function startMove(c: Conn, afterMs: number): void {
  if (c.moving) return;
  c.moving = true;
  c.state = "moving";
  counters.moves++;
  setTimeout(() => {
    // When the client leaves (after the hint's delay), not when the hint came:
    // the drain's spread is what the other gateways see.
    moveTimes.push(now());
    const s = c.socket;
    // A load balancer spreads the moved clients over the other gateways.
    const n = init.gateways.length;
    if (n > 1) c.gateway = (c.gateway + 1 + Math.floor(Math.random() * (n - 1))) % n;
    if (s !== null) {
      s.once("close", () => open(c));
      s.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
      setTimeout(() => s.destroy(), 1000).unref();
    } else {
      c.moving = false;
      open(c);
    }
  }, afterMs);
}

/** One message frame (live, or inside a joined page at `at`): seq chain and latency. */
function onMessage(c: Conn, p: Buffer, at: number, live: boolean): void {
  const room = stringAfter(p, KEY.room, at);
  const seq = numberAfter(p, KEY.seq, at);
  const prev = numberAfter(p, KEY.prev, at);
  if (room === undefined || !Number.isFinite(seq)) return;
  const last = c.lastSeq.get(room);
  if (live && c.resuming.has(room)) return; // the resume's page brings it
  if (last !== undefined) {
    if (seq <= last) {
      // A page repeating what this connection has: two joins of the room were
      // in flight (a retried join and a gap resume), each answered with the
      // messages after the same seq. Only a live repeat is the server's.
      if (live) counters.duplicates++;
      else counters.pageOverlaps++;
      return;
    }
    if (prev !== last) {
      if (!live) {
        // A resume page that does not continue the chain: the store lost messages.
        counters.unrecovered++;
      } else {
        // Missed something (e.g. a queue overflow): resume from the store, as a client would.
        counters.gaps++;
        c.resuming.add(room);
        c.socket?.write(clientTextFrame(JSON.stringify({ type: "join", room, since: last })));
        return;
      }
    }
  }
  c.lastSeq.set(room, seq);
  if (!live) {
    counters.replayed++;
    return;
  }
  counters.deliveries++;
  const t = numberAfter(p, KEY.body, at);
  if (Number.isFinite(t) && t > 1e12) {
    const us = Math.max(1, Math.round((now() - t) * 1000));
    e2e.recordValue(us);
    const g = c.gateway % init.gateways.length;
    let h = e2eByGateway[g];
    if (h === undefined) {
      h = newHistogram();
      e2eByGateway[g] = h;
    }
    h.recordValue(us);
  }
}

function setRate(perSecond: number): void {
  if (sendTimer !== null) clearInterval(sendTimer);
  sendTimer = null;
  rate = perSecond;
  rateStart = now();
  rateBase = nextK;
  if (rate <= 0 || senders.length === 0) return;
  sendTimer = setInterval(sendDue, 1);
}

function sendDue(): void {
  const t = now();
  // Send k is due once its scheduled time (rateStart + (k - rateBase) / rate) has come:
  // sends 0..floor(elapsed * rate) inclusive. One fewer sent each send an
  // interval late, and that interval showed up as latency.
  const due = rateBase + Math.floor(((t - rateStart) * rate) / 1000) + 1;
  const sockets = new Set<Socket>();
  while (nextK < due) {
    const k = nextK++;
    const c = senders[k % senders.length] as Conn;
    const when = rateStart + ((k - rateBase) * 1000) / rate;
    if (c.state !== "open" || c.socket === null) {
      counters.skippedSends++;
      continue;
    }
    scheduled[k & (RING - 1)] = when;
    const room = c.spec.rooms[0] as string;
    if (!sockets.has(c.socket)) {
      c.socket.cork();
      sockets.add(c.socket);
    }
    c.socket.write(clientTextFrame(`{"type":"send","room":"${room}","id":"${k}","body":${when.toFixed(3)}}`));
    counters.sent++;
  }
  for (const s of sockets) s.uncork();
}

let stopping = false;

function stats(reset: boolean): GeneratorStats {
  const out: GeneratorStats = {
    ...counters,
    errors: { ...errors },
    frames: framesBase + frameCount(),
    open: conns.filter((c) => c.state === "open").length,
    states: conns.reduce<Record<string, number>>((acc, c) => {
      acc[c.state] = (acc[c.state] ?? 0) + 1;
      return acc;
    }, {}),
    e2e: hdr.encodeIntoCompressedBase64(e2e),
    e2eByGateway: init.gateways.map((_, g) => {
      const h = e2eByGateway[g];
      return h === undefined ? "" : hdr.encodeIntoCompressedBase64(h);
    }),
    ack: hdr.encodeIntoCompressedBase64(ack),
    moveTimes: [...moveTimes],
  };
  if (reset) {
    e2e = newHistogram();
    e2eByGateway = [];
    ack = newHistogram();
    for (const k of Object.keys(counters) as (keyof typeof counters)[]) counters[k] = 0;
    errors = {};
    moveTimes = [];
  }
  return out;
}

async function start(msg: GeneratorInit): Promise<void> {
  init = msg;
  conns = msg.connections.map((s, i) => new Conn(s, i));
  senders = conns.filter((c) => c.spec.sender);
  // Open in waves so a process does not put thousands of SYNs in flight at once.
  const wave = msg.connectConcurrency;
  for (let i = 0; i < conns.length; i += wave) {
    for (const c of conns.slice(i, i + wave)) open(c);
    const target = Math.min(conns.length, i + wave);
    while (ready < target && !stopping) await new Promise((r) => setTimeout(r, 5));
  }
}

process.on("message", (raw) => {
  const m = raw as ToGenerator;
  switch (m.op) {
    case "init":
      void start(m);
      return;
    case "rate":
      setRate(m.perSecond);
      return;
    case "stats":
      process.send?.({ op: "stats", id: m.id, stats: stats(m.reset) });
      return;
    case "stop":
      stopping = true;
      setRate(0);
      for (const c of conns) c.socket?.destroy();
      process.send?.({ op: "stopped", id: m.id });
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
process.on("disconnect", () => process.exit(0));
