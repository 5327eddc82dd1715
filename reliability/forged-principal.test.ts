// Gateways cannot forge who a user is, against a real logic process: a
// gateway process (the link fixture, so the test chooses every byte of every
// event) attaches made-up, altered and replayed principals to its events;
// logic refuses each one and counts it, while the principal it issued keeps
// working. Then the key is rotated by restarting logic: with the old key as
// the previous key the issued principal still works, without it it is refused.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { SignJWT } from "jose";
import { GatewayProcess } from "../gateway/src/link/testing/gateway-process.ts";
import {
  ClientEventSchema,
  type Principal,
  type Reply,
  ReplySchema,
} from "../gen/chatcluster/v1/gateway_stream_pb.js";
import { metricValue, waitFor } from "../logic/src/link/testing/fleet-harness.ts";
import { killAll, startCli } from "./cli-process.ts";
import { recordResult } from "./results.ts";

const JWT_SECRET = "forged-principal-jwt-secret-0123456789";
const LINK_SECRET = "forged-principal-link-secret-0123456789";
const K1 = "principal-key-one-0123456789abcdef-forge";
const K2 = "principal-key-two-0123456789abcdef-forge";

interface LogicProc {
  readonly child: ChildProcess;
  readonly opsPort: number;
  readonly exited: Promise<void>;
}

async function startLogic(dataDir: string, gateway: string, env: Record<string, string>): Promise<LogicProc> {
  const p = await startCli(
    "logic",
    [
      "--logic-id=logic-seal",
      "--store=sqlite",
      `--sqlite-data-dir=${dataDir}`,
      "--discovery=static",
      `--discovery-static=${gateway}`,
      `--internal-secret=${LINK_SECRET}`,
      // Loopback only; this suite is about principals, not the link's TLS (internal-link.test.ts).
      "--insecure-internal",
      "--api-listen=127.0.0.1:0",
      "--ops-listen=127.0.0.1:0",
    ],
    { CHATCLUSTER_JWT_SECRET: JWT_SECRET, ...env },
  );
  return { child: p.child, exited: p.exited, opsPort: p.started.opsPort as number };
}

async function stopLogic(l: LogicProc): Promise<void> {
  l.child.kill("SIGKILL");
  await l.exited;
}

test("logic refuses principals it did not sign for the connection, and rotates its key", {
  timeout: 180_000,
}, async (t) => {
  const started = Date.now();
  const dataDir = await mkdtemp(join(tmpdir(), "cc-forged-principal-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const gw = await GatewayProcess.start({ gatewayId: "rogue-0", secret: LINK_SECRET });
  t.after(() => gw.dispose());
  let logic = await startLogic(dataDir, gw.address, { CHATCLUSTER_PRINCIPAL_KEY: K1 });
  t.after(() => killAll());
  const connected = async () => (await gw.stats()).connectedStreams === 1;
  await waitFor("logic's stream at the gateway", connected, 60_000);

  /** Sends one event as the gateway and returns logic's reply to it. */
  const ask = async (init: MessageInitShape<typeof ClientEventSchema>): Promise<Reply> => {
    const event = Buffer.from(toBinary(ClientEventSchema, create(ClientEventSchema, init))).toString(
      "base64",
    );
    const sent = await gw.call({ cmd: "sendEvent", event });
    assert.equal(sent.accepted, true);
    let got: Reply | undefined;
    await waitFor("logic's reply", async () => {
      const { replies } = (await gw.call({ cmd: "takeReplies" })) as unknown as { replies: string[] };
      for (const b of replies) {
        const r = fromBinary(ReplySchema, Buffer.from(b, "base64"));
        if (String(r.eventId) === sent.eventId) got = r;
      }
      return got !== undefined;
    });
    return got as Reply;
  };
  const sendAs = (
    connectionId: number,
    principal: Principal | MessageInitShape<typeof ClientEventSchema>["principal"],
    room: string,
  ) =>
    ask({
      connectionId,
      principal,
      kind: {
        case: "send",
        value: { room, clientMsgId: `m${Date.now()}${Math.random()}`, body: Buffer.from("{}") },
      },
    });
  const refused = (r: Reply) =>
    r.kind.case === "close" && r.kind.value.reason === "principal_invalid" && r.kind.value.closeCode === 4001;
  const acked = (r: Reply) =>
    r.kind.case === "frame" &&
    (JSON.parse(Buffer.from(r.kind.value).toString()) as { type: string }).type === "ack";
  const checks = async (result: string) =>
    metricValue(
      await (await fetch(`http://127.0.0.1:${logic.opsPort}/metrics`)).text(),
      "chatcluster_logic_principal_checks_total",
      `result="${result}"`,
    );

  // A real auth: logic issues carol a principal signed for connection 11 of this gateway process.
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ rooms: { read: ["team.a"], write: ["team.a"] } })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("carol")
    .setIssuedAt(now - 10)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(JWT_SECRET));
  const auth = await ask({ connectionId: 11, kind: { case: "auth", value: { token } } });
  assert.ok(auth.kind.case === "auth" && auth.kind.value.ok);
  const issued = auth.kind.value.principal as Principal;
  assert.equal(issued.signature.byteLength, 32, "the principal comes signed");
  assert.ok(acked(await sendAs(11, issued, "team.a")), "the issued principal works");

  const outcomes: string[] = [];
  // Made up: no signature.
  assert.ok(refused(await sendAs(12, { userId: "admin", read: [">"], write: [">"] }, "ops.secrets")));
  outcomes.push("made-up principal (no signature): refused");
  // Altered: carol's signature, wider rights.
  assert.ok(refused(await sendAs(11, { ...issued, write: [">"] }, "ops.secrets")));
  outcomes.push("carol's principal with write widened: refused");
  // Replayed on another connection of the same gateway.
  assert.ok(refused(await sendAs(12, issued, "team.a")));
  outcomes.push("carol's principal on another connection: refused");
  // Any event carrying a principal is checked, not only sends.
  assert.ok(
    refused(
      await ask({ connectionId: 12, principal: issued, kind: { case: "join", value: { room: "team.a" } } }),
    ),
  );
  assert.equal(await checks("missing_signature"), 1);
  assert.equal(await checks("bad_signature"), 3);
  assert.equal(await checks("ok"), 1);

  // Rotation, step 2: the new key signs, the old one still verifies.
  await stopLogic(logic);
  logic = await startLogic(dataDir, gw.address, {
    CHATCLUSTER_PRINCIPAL_KEY: K2,
    CHATCLUSTER_PRINCIPAL_KEY_PREVIOUS: K1,
  });
  await waitFor("logic's stream back", connected, 60_000);
  assert.ok(acked(await sendAs(11, issued, "team.a")), "a principal of the previous key still works");
  assert.equal(await checks("ok_previous_key"), 1);
  const reauth = await ask({
    connectionId: 11,
    principal: issued,
    kind: { case: "auth", value: { token, refresh: true } },
  });
  assert.ok(reauth.kind.case === "auth" && reauth.kind.value.ok, "a refresh re-signs with the new key");
  const resigned = reauth.kind.value.principal as Principal;
  outcomes.push("during a rotation: the previous key's principal accepted, a refresh re-signs it");

  // Step 3: the old key is gone.
  await stopLogic(logic);
  logic = await startLogic(dataDir, gw.address, { CHATCLUSTER_PRINCIPAL_KEY: K2 });
  await waitFor("logic's stream back again", connected, 60_000);
  assert.ok(
    refused(await sendAs(11, issued, "team.a")),
    "the old key's principal is refused after the rotation",
  );
  assert.ok(acked(await sendAs(11, resigned, "team.a")), "the re-signed principal works");
  outcomes.push("after the rotation: the old key's principal refused, the re-signed one accepted");

  recordResult({
    id: "security-forged-principal",
    kind: "security",
    load: "one gateway process sending chosen events to a real logic process",
    fault:
      "principals made up, altered and replayed on another connection by the gateway; key rotated across logic restarts (reliability/forged-principal.test.ts)",
    outcome: `${outcomes.join("; ")}; each refusal closes the connection 4001 principal_invalid and is counted in chatcluster_logic_principal_checks_total`,
    lost: null,
    durationMs: Date.now() - started,
  });
});
