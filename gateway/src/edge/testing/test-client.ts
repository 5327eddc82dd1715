import { once } from "node:events";
import WebSocket from "ws";
import type { ServerFrame } from "../../../../protocol/client-frames.ts";

/**
 * TEST ONLY: a raw protocol client that records every server frame and lets a
 * test await the next one of a given type (with a timeout, so a missing frame
 * fails the test instead of hanging it).
 */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[] = [];
  closeCode = 0;
  closeReason = "";
  readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(url: string, opts: { protocol?: string | null; localAddress?: string } = {}) {
    const protocol = opts.protocol === undefined ? "chatcluster.v1" : opts.protocol;
    this.ws = new WebSocket(url, protocol === null ? [] : [protocol], {
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      perMessageDeflate: false,
    });
    this.ws.on("message", (data) => {
      this.frames.push(JSON.parse(String(data)) as ServerFrame);
      this.wake();
    });
    this.ws.on("error", () => {});
    this.closed = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        this.wake();
        resolve();
      });
    });
  }

  static async open(url: string, opts: { protocol?: string | null; localAddress?: string } = {}) {
    const c = new TestClient(url, opts);
    await once(c.ws, "open");
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Resolves with (and removes) the first recorded frame of `type`. */
  async next<T extends ServerFrame["type"]>(
    type: T,
    timeoutMs = 10_000,
  ): Promise<Extract<ServerFrame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i !== -1) return this.frames.splice(i, 1)[0] as Extract<ServerFrame, { type: T }>;
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error(`closed (${this.closeCode} ${this.closeReason}) before a ${type} frame`);
      if (Date.now() > deadline) throw new Error(`no ${type} frame within ${timeoutMs}ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 10_000): Promise<number> {
    const t = setTimeout(() => this.ws.terminate(), timeoutMs);
    await this.closed;
    clearTimeout(t);
    return this.closeCode;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
