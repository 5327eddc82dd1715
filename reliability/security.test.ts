// Who may do what, against real gateway and logic processes: nothing before
// auth reaches logic, tokens bound reads, writes and the sender, the internal
// port and the server API need their secrets, and no secret or token ever
// shows up in what the processes log (at debug level).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { SignJWT } from "jose";
import { ChatClient } from "../client/src/index.ts";
import { rawHello, rawLogicStream } from "../gateway/src/link/testing/raw-logic-stream.ts";
import { CLOSE_CODES } from "../protocol/close-codes.ts";
import { SECRET_HEADER } from "../protocol/push-stream/index.ts";
import { until } from "./load-driver.ts";
import { openRaw } from "./raw-socket.ts";
import { recordResult } from "./results.ts";
import { type ReliabilityStack, startReliabilityStack } from "./stack.ts";

async function sign(
  secret: string,
  sub: string,
  rooms: { read: string[]; write: string[] },
  expSeconds = 3600,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ rooms })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt(now - 10)
    .setExpirationTime(now + expSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** Sum of a metric's series whose labels match `labels` over several ops endpoints. */
async function metricSum(addresses: readonly string[], name: string, labels: RegExp): Promise<number> {
  let sum = 0;
  for (const address of addresses) {
    const text = await (await fetch(`http://${address}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (line.startsWith(`${name}{`) && labels.test(line)) sum += Number(line.split(" ").at(-1));
    }
  }
  return sum;
}

describe("security against the real processes", { timeout: 180_000 }, () => {
  let rs: ReliabilityStack;
  const secrets: Record<string, string> = {};
  const outcomes: { text: string; ms: number }[] = [];
  let testStarted = Date.now();
  const outcome = (text: string) => void outcomes.push({ text, ms: Date.now() - testStarted });

  before(async () => {
    rs = await startReliabilityStack({ store: "sqlite", logLevel: "debug" });
    secrets["JWT secret"] = rs.jwtSecret;
    secrets["API key"] = rs.stack.apiKey;
    secrets["internal secret"] = rs.internalSecret;
    secrets["principal key"] = rs.stack.principalKey;
    assert.ok(rs.internalSecret.length >= 32);
  });
  after(async () => {
    await rs?.stop();
  });
  beforeEach(() => {
    testStarted = Date.now();
  });

  // Events logic handled for client frames (not auth, not the gateways' own presence leases), over both logic processes.
  const logicEvents = () =>
    metricSum(
      rs.stack.opsTargets.filter((t) => t.role === "logic").map((t) => t.address),
      "chatcluster_logic_events_total",
      /kind="(join|send|leave|signal|presenceQuery|readMarker)"/,
    );

  it("an unauthenticated connection can only authenticate: nothing reaches logic", async () => {
    const before = await logicEvents();
    const s = await openRaw(rs.stack.gatewayUrls[0] as string);
    s.ws.send(JSON.stringify({ type: "join", room: "team.a" }));
    s.ws.send(JSON.stringify({ type: "send", room: "team.a", id: "x1", body: "sneaky" }));
    s.ws.send(JSON.stringify({ type: "leave", room: "team.a" }));
    const answers = await s.roundTrip();
    assert.deepEqual(
      answers.map((f) => f.code),
      ["not_authenticated", "not_authenticated", "not_authenticated"],
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await logicEvents(), before, "logic handled no event of the unauthenticated connection");
    s.ws.close();
    outcome("join/send/leave before auth: not_authenticated; logic handled 0 events");
  });

  it("bad tokens are refused with 4001, an expired one with 4001/4002", async () => {
    const wrongKey = await sign("not-the-secret-not-the-secret-000", "eve", { read: [">"], write: [">"] });
    const expired = await sign(rs.jwtSecret, "eve", { read: [">"], write: [">"] }, -120);
    secrets["token signed with another key"] = wrongKey;
    secrets["expired token"] = expired;
    const codes: number[] = [];
    for (const token of ["not-a-jwt", wrongKey, expired]) {
      const s = await openRaw(rs.stack.gatewayUrls[0] as string);
      s.ws.send(JSON.stringify({ type: "auth", token }));
      const c = await s.closed;
      codes.push(c.code);
      assert.ok(
        s.frames.some((f) => f.type === "error"),
        "an error frame before the close",
      );
    }
    assert.equal(codes[0], CLOSE_CODES.unauthorized.code);
    assert.equal(codes[1], CLOSE_CODES.unauthorized.code);
    assert.ok([CLOSE_CODES.unauthorized.code, CLOSE_CODES.tokenExpired.code].includes(codes[2] as number));
    outcome(`garbage / foreign-key / expired tokens: closed ${codes.join(" / ")}`);
  });

  it("a token in the URL query is refused and never reaches logic", async () => {
    const token = await rs.token("urlguest");
    secrets["token put in a URL"] = token;
    const logicAddresses = rs.stack.opsTargets.filter((t) => t.role === "logic").map((t) => t.address);
    const authsBefore = await metricSum(logicAddresses, "chatcluster_logic_events_total", /kind="auth"/);
    const s = await openRaw(`${rs.stack.gatewayUrls[0]}?token=${token}`);
    const error = await s.next("error");
    assert.equal(error.code, "unauthorized");
    assert.match(String(error.message), /auth frame/);
    const { code } = await s.closed;
    assert.equal(code, CLOSE_CODES.unauthorized.code);
    const gatewayOps = rs.stack.opsTargets.find((t) => t.name === "gateway-0")?.address as string;
    const refused = (await fetch(`http://${gatewayOps}/metrics`).then((r) => r.text())).match(
      /^chatcluster_gateway_url_tokens_refused_total (\d+)/m,
    );
    assert.equal(refused?.[1], "1");
    assert.equal(
      await metricSum(logicAddresses, "chatcluster_logic_events_total", /kind="auth"/),
      authsBefore,
      "logic verified nothing",
    );
    outcome(
      `token as ?token= on the WebSocket URL: closed ${code} with an error saying to send an auth frame; logic saw no auth`,
    );
  });

  it("a token bounds reads and writes, and the sender always comes from the token", async () => {
    const carolToken = await sign(rs.jwtSecret, "carol", { read: ["team.a"], write: ["team.a"] });
    const observerToken = await rs.token("observer");
    secrets["carol's token"] = carolToken;
    secrets["observer's token"] = observerToken;
    const carol = await openRaw(rs.stack.gatewayUrls[0] as string, { token: carolToken });
    const observer = await openRaw(rs.stack.gatewayUrls[1] as string, { token: observerToken });
    observer.ws.send(JSON.stringify({ type: "join", room: "team.a" }));
    observer.ws.send(JSON.stringify({ type: "join", room: "team.b" }));
    await observer.next("joined");
    await observer.next("joined");

    carol.ws.send(JSON.stringify({ type: "join", room: "team.b" }));
    const joinB = await carol.next("error");
    assert.equal(joinB.code, "forbidden");
    carol.ws.send(JSON.stringify({ type: "send", room: "team.b", id: "w1", body: "no" }));
    const sendB = await carol.next("error");
    assert.equal(sendB.code, "forbidden");
    assert.equal(sendB.id, "w1");

    carol.ws.send(
      JSON.stringify({ type: "send", room: "team.a", id: "w2", from: "mallory", body: { from: "mallory" } }),
    );
    assert.equal((await carol.next("ack")).id, "w2");
    const m = await observer.next("message");
    assert.equal(m.room, "team.a");
    assert.equal(m.from, "carol", "from comes from the token, not the frame");
    await observer.roundTrip();
    assert.ok(
      !observer.frames.some((f) => f.type === "message" && f.room === "team.b"),
      "nothing reached team.b",
    );
    carol.ws.close();
    observer.ws.close();
    outcome('join/send outside the token\'s rooms: forbidden; a "from" in the frame is ignored');
  });

  it("a refreshed token takes its rooms with it: left, and a resume of one is refused", async () => {
    const both = await sign(rs.jwtSecret, "dana", { read: ["team.a", "team.b"], write: [] });
    const onlyA = await sign(rs.jwtSecret, "dana", { read: ["team.a"], write: [] });
    const posterToken = await rs.token("poster");
    secrets["dana's token for team.a and team.b"] = both;
    secrets["dana's token for team.a"] = onlyA;
    secrets["poster's token"] = posterToken;
    const dana = await openRaw(rs.stack.gatewayUrls[0] as string, { token: both });
    const poster = await openRaw(rs.stack.gatewayUrls[1] as string, { token: posterToken });
    dana.ws.send(JSON.stringify({ type: "join", room: "team.a" }));
    dana.ws.send(JSON.stringify({ type: "join", room: "team.b" }));
    await dana.next("joined");
    await dana.next("joined");
    dana.ws.send(JSON.stringify({ type: "auth", token: onlyA }));
    await dana.next("welcome");
    assert.deepEqual(await dana.next("left"), { type: "left", room: "team.b", reason: "forbidden" });
    dana.ws.send(JSON.stringify({ type: "join", room: "team.b", since: 0 }));
    const resume = await dana.next("error");
    assert.deepEqual([resume.code, resume.id], ["forbidden", "team.b"]);
    poster.ws.send(JSON.stringify({ type: "send", room: "team.b", id: "r1", body: "b" }));
    poster.ws.send(JSON.stringify({ type: "send", room: "team.a", id: "r2", body: "a" }));
    await poster.next("ack");
    await poster.next("ack");
    assert.equal((await dana.next("message")).room, "team.a");
    await dana.roundTrip();
    assert.ok(
      !dana.frames.some((f) => f.type === "message" && f.room === "team.b"),
      "nothing of team.b reached the refreshed connection",
    );

    // The SDK surfaces it as an event and does not join the room again.
    let token = both;
    const sdk = new ChatClient({ url: rs.stack.gatewayUrls[0] as string, token: () => token });
    const joined = new Set<string>();
    sdk.on("joined", (j) => joined.add(j.room));
    const left = new Promise<string>((resolve) => sdk.on("left", (f) => resolve(`${f.room} ${f.reason}`)));
    sdk.join("team.a");
    sdk.join("team.b");
    sdk.connect();
    try {
      await until("the SDK joined both rooms", () => joined.size === 2);
      token = onlyA;
      await sdk.refreshToken();
      assert.equal(await left, "team.b forbidden");
    } finally {
      sdk.close();
    }
    dana.ws.close();
    poster.ws.close();
    outcome(
      "token refreshed to one without team.b: left {room team.b, reason forbidden} (also an SDK `left` event); a resume of team.b: forbidden; its messages stopped",
    );
  });

  it("the gateways' internal port refuses streams without the shared secret", async () => {
    const arg = rs.stack.logic[0]?.spec.args.find((a) => a.startsWith("--discovery-static=")) ?? "";
    const address = arg.split("=")[2]?.split(",")[0] as string;
    const exchange = (headers: Record<string, string>) =>
      rawLogicStream(`http://${address}`, [rawHello("intruder")], headers);
    assert.equal((await exchange({}))?.code, Code.Unauthenticated);
    assert.equal((await exchange({ [SECRET_HEADER]: "wrong-secret" }))?.code, Code.Unauthenticated);
    outcome("internal stream without / with a wrong secret: UNAUTHENTICATED");
  });

  it("the server API requires its key", async () => {
    const call = (auth?: string) =>
      fetch(`${rs.stack.apiUrls[0]}/chatcluster.v1.ChatService/Publish`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ room: "team.a", body: { text: "api" } }),
      });
    secrets["wrong API key"] = "wrong-api-key-0123456789abcdef";
    assert.equal((await call()).status, 401);
    assert.equal((await call("wrong-api-key-0123456789abcdef")).status, 401);
    assert.equal((await call(rs.stack.apiKey)).status, 200);
    outcome("server API without / with a wrong key: 401; with the key: 200");
  });

  it("only logic processes hold the principal key", async () => {
    const key = rs.stack.principalKey;
    assert.ok(key.length >= 32);
    const holds = (role: "gateway" | "logic", i: number) => {
      const p = (role === "gateway" ? rs.stack.gateways : rs.stack.logic)[i];
      const pid = p?.pid();
      assert.ok(pid !== undefined, `${role}-${i} running`);
      const proc = ["environ", "cmdline"].map((f) => readFileSync(`/proc/${pid}/${f}`, "latin1")).join("");
      return proc.includes(key);
    };
    assert.deepEqual(
      rs.stack.gateways.map((_, i) => holds("gateway", i)),
      [false, false],
    );
    assert.deepEqual(
      rs.stack.logic.map((_, i) => holds("logic", i)),
      [true, true],
    );
    outcome("principal key in the processes' environment and arguments: logic 2/2, gateways 0/2");
  });

  it("no secret appears on a process's command line (ps shows it to every local user)", () => {
    const procs = [...rs.stack.gateways, ...rs.stack.logic];
    const leaks: string[] = [];
    for (const p of procs) {
      const pid = p.pid();
      assert.ok(pid !== undefined, `${p.spec.name} is running`);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      for (const [name, value] of Object.entries(secrets))
        if (cmdline.includes(value)) leaks.push(`${p.spec.name}: ${name}`);
    }
    assert.deepEqual(leaks, [], `secrets on command lines: ${leaks.join(", ")}`);
    outcome(
      `command lines of ${procs.length} processes read from /proc: 0 secrets on them (passed in the environment)`,
    );
  });

  it("no secret or token appears in anything the processes logged", async () => {
    await new Promise((r) => setTimeout(r, 500));
    const text = rs.output.join("\n");
    assert.ok(rs.output.length > 20, `captured ${rs.output.length} log lines`);
    const leaks: string[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      const parts = [value];
      // A JWT's signature alone is enough to be worried about.
      if (value.split(".").length === 3) parts.push(value.split(".")[2] as string);
      if (parts.some((p) => text.includes(p))) leaks.push(name);
    }
    assert.deepEqual(leaks, [], `leaked into logs: ${leaks.join(", ")}`);
    outcome(
      `${rs.output.length} log lines at debug level checked for ${Object.keys(secrets).length} secrets/tokens: 0 found`,
    );
    for (const [i, o] of outcomes.entries()) {
      recordResult({
        id: `security-${i + 1}`,
        kind: "security",
        load: "single protocol-level connections",
        fault: o.text.split(":")[0] as string,
        outcome: o.text.split(":").slice(1).join(":").trim(),
        lost: null,
        durationMs: o.ms,
      });
    }
  });
});
