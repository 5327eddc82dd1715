// The ceiling baseline of make bench-e2e: the least a chat server can do in one
// process, with the same client protocol: no auth check, no store, no second
// tier. Rooms are in-memory sets of sockets; a send gets a per-room seq, an
// ack, and one serialized message frame sent to every member.
//
//   node bench/e2e/ceiling-server.ts   (prints {"port": N} on stdout once listening)
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

const rooms = new Map<string, { seq: number; members: Set<WebSocket> }>();

function roomNamed(name: string): { seq: number; members: Set<WebSocket> } {
  let r = rooms.get(name);
  if (r === undefined) {
    r = { seq: 0, members: new Set() };
    rooms.set(name, r);
  }
  return r;
}
const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: false,
  handleProtocols: (p) => (p.has("chatcluster.v1") ? "chatcluster.v1" : false),
});

wss.on("connection", (ws) => {
  const joined: string[] = [];
  let user = "";
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString()) as {
      type: string;
      room?: string;
      id?: string;
      body?: unknown;
      token?: string;
    };
    switch (f.type) {
      case "auth":
        user = `u${Math.random().toString(36).slice(2, 8)}`;
        ws.send(
          `{"type":"welcome","user":"${user}","connection_id":"ceiling/1","heartbeat_ms":25000,"limits":{}}`,
        );
        return;
      case "join": {
        const name = f.room as string;
        const r = roomNamed(name);
        r.members.add(ws);
        joined.push(name);
        ws.send(
          `{"type":"joined","room":${JSON.stringify(name)},"last_seq":${r.seq},"complete":true,"messages":[]}`,
        );
        return;
      }
      case "send": {
        const name = f.room as string;
        const r = roomNamed(name);
        const seq = ++r.seq;
        const room = JSON.stringify(name);
        const id = JSON.stringify(f.id);
        ws.send(`{"type":"ack","id":${id},"room":${room},"seq":${seq}}`);
        const frame = Buffer.from(
          `{"type":"message","room":${room},"seq":${seq},"prev":${seq - 1},"id":${id},"from":"${user}","ts":${Date.now()},"body":${JSON.stringify(f.body)}}`,
        );
        for (const m of r.members) m.send(frame, { binary: false });
        return;
      }
      default:
        return;
    }
  });
  ws.on("close", () => {
    for (const name of joined) rooms.get(name)?.members.delete(ws);
  });
  ws.on("error", () => {});
});
wss.on("listening", () => {
  process.stdout.write(`${JSON.stringify({ port: (wss.address() as AddressInfo).port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
