import assert from "node:assert/strict";
import { accessSync, constants, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { needsReal } from "../testenv/harness/index.ts";
import type { DevStack } from "./dev-stack.ts";
import { startLoopbackStack } from "./loopback-stack.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/dev/", import.meta.url));
// Flags from running Chromium as root in a sandbox-less container without network.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

interface PageView {
  states: string[];
  seqs: number[];
  texts: string[];
}

async function view(page: Page, room: string): Promise<PageView> {
  return page.evaluate((r) => {
    const cc = (
      window as unknown as {
        chatcluster: { states: string[]; rooms: Map<string, { seq: number; body: { text?: string } }[]> };
      }
    ).chatcluster;
    const list = cc.rooms.get(r) ?? [];
    return {
      states: [...cc.states],
      seqs: list.map((m) => m.seq),
      texts: list.map((m) => m.body.text ?? ""),
    };
  }, room);
}

/**
 * Waits in this file follow the page (a selector, a message count); their
 * bounds are backstops, generous because Chromium and the stack share the
 * machine with whatever else runs (`make test-busy` burns every core).
 */
const PAGE_BACKSTOP_MS = 60_000;

async function login(page: Page, url: string): Promise<void> {
  // Every later wait on this page (waitForSelector, waitForFunction) gets the same backstop.
  page.setDefaultTimeout(PAGE_BACKSTOP_MS);
  await page.goto(url, { timeout: PAGE_BACKSTOP_MS });
  await page.click("#login-form button[type=submit]", { timeout: PAGE_BACKSTOP_MS });
  await page.waitForSelector('#state[data-state="open"]', { timeout: PAGE_BACKSTOP_MS });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

async function waitForTexts(
  page: Page,
  room: string,
  n: number,
  timeoutMs = PAGE_BACKSTOP_MS,
): Promise<PageView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await view(page, room);
    if (v.texts.length >= n) return v;
    if (Date.now() > deadline)
      throw new Error(`page has ${v.texts.length} of ${n} messages: ${v.texts.join(" | ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A dev stack and a Chromium for the tests of one describe block, started before them and stopped after. */
function demoStack(opts: { hooksExample?: boolean }): {
  readonly stack: DevStack;
  readonly browser: Browser;
} {
  let stack: DevStack;
  let browser: Browser;
  let dir: string;
  const output: string[] = [];
  before(async () => {
    try {
      accessSync(CHROMIUM, constants.X_OK);
    } catch {
      throw new Error(`${CHROMIUM} not found: run \`make system-packages\` (Debian's chromium)`);
    }
    dir = await mkdtemp(join(tmpdir(), "cc-dev-"));
    stack = await startLoopbackStack({ dataDir: dir, ...opts }, (line) => output.push(line));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get stack() {
      return stack;
    },
    get browser() {
      return browser;
    },
  };
}

describe("make dev: the demo page in a real browser", {
  skip: needsReal("Chromium (make system-packages)"),
}, () => {
  const demo = demoStack({});

  it("two tabs on different gateways chat; a logic restart mid-conversation disconnects nobody and loses nothing", async () => {
    const alice = await (await demo.browser.newContext()).newPage();
    const bob = await (await demo.browser.newContext()).newPage();
    await login(alice, `${demo.stack.webUrl}?gateway=0&name=alice&room=lobby`);
    await login(bob, `${demo.stack.webUrl}?gateway=1&name=bob&room=lobby`);
    assert.match((await alice.textContent("#where")) ?? "", /alice via gateway-0/);
    assert.match((await bob.textContent("#where")) ?? "", /bob via gateway-1/);

    const sent: string[] = [];
    const sender: string[] = [];
    for (let i = 0; i < 5; i++) {
      const who = i % 2 === 0 ? alice : bob;
      const text = `before ${i}`;
      sent.push(text);
      sender.push(i % 2 === 0 ? "alice" : "bob");
      await say(who, text);
      await waitForTexts(alice, "lobby", sent.length);
    }

    // SIGKILL a logic process mid-conversation; the stack restarts it.
    const victim = demo.stack.logic[0];
    assert.ok(victim);
    const pid = victim.pid();
    assert.ok(pid !== undefined);
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 10; i++) {
      const who = i % 2 === 0 ? bob : alice;
      const text = `during ${i}`;
      sent.push(text);
      sender.push(i % 2 === 0 ? "bob" : "alice");
      await say(who, text);
      await new Promise((r) => setTimeout(r, 150));
    }
    const deadline = Date.now() + PAGE_BACKSTOP_MS;
    while (victim.starts() < 2 || victim.pid() === pid) {
      if (Date.now() > deadline) throw new Error("the killed logic process was not restarted");
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 5; i++) {
      const text = `after ${i}`;
      sent.push(text);
      sender.push(i % 2 === 0 ? "alice" : "bob");
      await say(i % 2 === 0 ? alice : bob, text);
    }

    const views: PageView[] = [];
    for (const page of [alice, bob]) {
      const v = await waitForTexts(page, "lobby", sent.length);
      views.push(v);
      // Two people typing at once may be ordered either way; the room's order is its seq.
      assert.deepEqual([...v.texts].sort(), [...sent].sort(), "every message exactly once");
      for (const who of ["alice", "bob"]) {
        const mine = sent.filter((_, i) => sender[i] === who);
        assert.deepEqual(
          v.texts.filter((t) => mine.includes(t)),
          mine,
          `${who}'s messages in the order sent`,
        );
      }
      assert.deepEqual(
        v.seqs,
        v.seqs.map((_, i) => (v.seqs[0] ?? 1) + i),
        "seqs are contiguous",
      );
      assert.deepEqual(
        v.states.filter((s) => s !== "connecting" && s !== "authenticating" && s !== "open"),
        [],
        `the page stayed connected (states: ${v.states.join(",")})`,
      );
      assert.equal(await page.getAttribute("#state", "data-state"), "open");
    }
    assert.deepEqual(views[0]?.texts, views[1]?.texts, "both tabs show the room in the same order");
    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: join(ARTIFACTS, "chat-alice.png"), fullPage: true });
    await bob.screenshot({ path: join(ARTIFACTS, "chat-bob.png"), fullPage: true });
  });
});

describe("make dev HOOKS_EXAMPLE=1: the demo page shows the example hooks' rules", {
  skip: needsReal("Chromium (make system-packages)"),
}, () => {
  const demo = demoStack({ hooksExample: true });

  it("masks a word, refuses a shout with its code, shows the room's topic and an edit by the backend", async () => {
    const page = await (await demo.browser.newContext()).newPage();
    await login(page, `${demo.stack.webUrl}?gateway=0&name=erin&room=lobby`);
    await page.waitForFunction(() => document.querySelector("#room-title")?.textContent?.includes("Welcome"));
    assert.equal(
      await page.textContent("#room-title"),
      "# lobby — Welcome to #lobby",
      "the Join hook's topic",
    );

    await say(page, "darn this build");
    const masked = await waitForTexts(page, "lobby", 1);
    assert.equal(masked.texts[0], "d*** this build", "the Send hook rewrote the body");

    await say(page, "WHY IS IT RED AGAIN");
    await page.waitForSelector("#notice:not([hidden])");
    assert.match((await page.textContent("#notice")) ?? "", /no_shouting/);
    assert.equal((await view(page, "lobby")).texts.length, 1, "the shout was not stored");

    const res = await fetch(`${demo.stack.apiUrls[0]}/chatcluster.v1.ChatService/EditMessage`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${demo.stack.apiKey}` },
      body: JSON.stringify({ room: "lobby", seq: String(masked.seqs[0]), body: { text: "[removed]" } }),
    });
    assert.equal(res.status, 200, await res.text());
    await page.waitForFunction(() => document.querySelector("#messages")?.textContent?.includes("(edited)"));
    assert.match((await page.textContent("#messages")) ?? "", /\[removed\] \(edited\)/);
    assert.deepEqual(
      (await view(page, "lobby")).texts,
      ["[removed]"],
      "the edit changed the message, not added one",
    );
  });
});
