import WebSocket from "ws";

/** A bare protocol-level connection for hostile-input tests: what it got, and how it ended. */
export interface RawSocket {
  readonly ws: WebSocket;
  /** Parsed text frames received, in order. */
  readonly frames: Record<string, unknown>[];
  /** Resolves with the close code and reason (1006 when the TCP connection just dropped). */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first received frame of `type` after `from` frames were seen. */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a ping with a unique ts and resolves with every frame received before its pong. */
  roundTrip(timeoutMs?: number): Promise<Record<string, unknown>[]>;
}

let seq = 0;
let nextTs = 1;

export async function openRaw(url: string, opts: { token?: string } = {}): Promise<RawSocket> {
  const ws = new WebSocket(url, ["chatcluster.v1"], {
    localAddress: `127.0.0.${2 + (seq++ % 200)}`,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
  });
  const frames: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    try {
      frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
    } catch {
      frames.push({ type: "<unparseable>" });
    }
    for (const w of waiters) w();
  });
  ws.on("error", () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    });
  });
  const waitFor = (pred: () => Record<string, unknown>[] | undefined, what: string, timeoutMs: number) =>
    new Promise<Record<string, unknown>[]>((resolve, reject) => {
      const check = () => {
        const got = pred();
        if (got !== undefined) {
          cleanup();
          resolve(got);
        } else if (ws.readyState === WebSocket.CLOSED) {
          cleanup();
          reject(
            new Error(`closed while waiting for ${what}; frames: ${JSON.stringify(frames).slice(0, 300)}`),
          );
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames).slice(0, 300)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  let consumed = 0;
  const sock: RawSocket = {
    ws,
    frames,
    closed,
    async next(type, timeoutMs = 10_000) {
      const [f] = await waitFor(
        () => {
          const i = frames.findIndex((f, k) => k >= consumed && f.type === type);
          if (i < 0) return undefined;
          consumed = i + 1;
          return [frames[i] as Record<string, unknown>];
        },
        type,
        timeoutMs,
      );
      return f as Record<string, unknown>;
    },
    async roundTrip(timeoutMs = 10_000) {
      const ts = nextTs++;
      const from = consumed;
      ws.send(JSON.stringify({ type: "ping", ts }));
      return waitFor(
        () => {
          const i = frames.findIndex((f, k) => k >= from && f.type === "pong" && f.ts === ts);
          if (i < 0) return undefined;
          consumed = i + 1;
          return frames.slice(from, i);
        },
        `pong ${ts}`,
        timeoutMs,
      );
    },
  };
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("close", (code) => reject(new Error(`closed ${code} before open`)));
    ws.once("unexpected-response", (_req, res) =>
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
    );
  });
  if (opts.token !== undefined) {
    ws.send(JSON.stringify({ type: "auth", token: opts.token }));
    await sock.next("welcome");
  }
  return sock;
}
