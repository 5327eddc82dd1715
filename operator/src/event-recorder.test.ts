import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "../../platform/logger.ts";
import { EventRecorder, MAX_EVENTS_PER_OBJECT_PER_MINUTE } from "./event-recorder.ts";
import { KubeApi } from "./kube-api.ts";

describe("EventRecorder rate limit", () => {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: "c", server: "https://127.0.0.1:1", skipTLSVerify: true }, { name: "u" });
  let now = 0;
  const rec = new EventRecorder(
    new KubeApi(kc),
    createLogger("test", "silent"),
    "op-1",
    () => {},
    () => now,
  );

  it("suppresses a repeated reason and message within the window", () => {
    assert.equal(rec.admit("uid-a", "Scaled", "2 -> 3"), true);
    assert.equal(rec.admit("uid-a", "Scaled", "2 -> 3"), false);
    assert.equal(rec.admit("uid-a", "Scaled", "3 -> 4"), true);
    assert.equal(rec.admit("uid-b", "Scaled", "2 -> 3"), true, "other objects are independent");
    now += 5 * 60 * 1000;
    assert.equal(rec.admit("uid-a", "Scaled", "2 -> 3"), true);
  });

  it("caps events per object per minute", () => {
    now += 60_000;
    let admitted = 0;
    for (let i = 0; i < 50; i++) if (rec.admit("uid-c", "Reason", `m${i}`)) admitted++;
    assert.equal(admitted, MAX_EVENTS_PER_OBJECT_PER_MINUTE);
    now += 60_000;
    assert.equal(rec.admit("uid-c", "Reason", "later"), true);
  });
});
