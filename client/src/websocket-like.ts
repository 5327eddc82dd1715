// Method-style parameter checking, so the DOM's and ws's handler types (with richer event types) fit.
type Handler<E> = { bivarianceHack(ev: E): void }["bivarianceHack"];

/** The part of the WHATWG WebSocket the SDK uses (browsers, Node 24's global, or `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<never> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<never> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols: string | string[]) => WebSocketLike;

/** WebSocket.OPEN */
export const OPEN = 1;
