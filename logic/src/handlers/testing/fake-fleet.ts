import type { ConnectionCommand, Reply } from "../../../../gen/chatcluster/v1/gateway_stream_pb.js";
import type { CommandDispatch, GatewayFleet, GatewayRef, GatewayView } from "../../gateway-fleet.ts";

/**
 * UNIT TESTS ONLY: a GatewayFleet that records what handlers ask of it, in
 * place of the push streams (another component with its own tests).
 */
export class RecordingFleet implements GatewayFleet {
  readonly deliveries: { room: string; seq: bigint; payload: Uint8Array }[] = [];
  readonly replies: { to: GatewayRef; reply: Reply }[] = [];
  readonly commands: { key: string; command: ConnectionCommand; payload: Uint8Array }[] = [];
  gateways = 1;
  #waiters: { n: number; resolve: () => void }[] = [];

  deliverToRoom(room: string, seq: bigint, payload: Uint8Array): void {
    this.deliveries.push({ room, seq, payload });
  }

  reply(to: GatewayRef, reply: Reply): void {
    this.replies.push({ to, reply });
    this.#waiters = this.#waiters.filter((w) => {
      if (this.replies.length < w.n) return true;
      w.resolve();
      return false;
    });
  }

  connectedGateways(): number {
    return this.gateways;
  }

  command(key: string, command: ConnectionCommand, payload: Uint8Array): CommandDispatch {
    this.commands.push({ key, command, payload });
    return { gateways: this.gateways, applied: Promise.resolve(this.gateways) };
  }

  gatewaysWith(_key: string): number {
    return this.gateways;
  }

  gatewayViews(): GatewayView[] {
    return [];
  }

  /** Resolves once at least `n` replies have been recorded in total. */
  untilReplies(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.replies.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${n} replies, got ${this.replies.length}`)),
        timeoutMs,
      );
      this.#waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** The reply to one event id (throws when there is none or more than one). */
  replyTo(eventId: bigint): Reply {
    const found = this.replies.filter((r) => r.reply.eventId === eventId);
    if (found.length !== 1) throw new Error(`event ${eventId}: ${found.length} replies`);
    return (found[0] as { reply: Reply }).reply;
  }
}
