import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import { chatCluster } from "../testing/fixtures.ts";
import { TEMPLATE_STABILITY_SPECS } from "../testing/template-specs.ts";
import { buildDesired } from "./index.ts";

/**
 * An operator upgrade rolls no pod: for a spec that sets only fields the
 * 0.1 operator knew, both pod templates are exactly the ones it built
 * (recorded in testing/pod-templates-0.1.json, never regenerated).
 */
const RECORDED = JSON.parse(
  readFileSync(new URL("../testing/pod-templates-0.1.json", import.meta.url), "utf8"),
) as Record<string, { gateway: unknown; logic: unknown }>;

describe("pod templates of specs an earlier operator knew", () => {
  for (const [name, spec] of Object.entries(TEMPLATE_STABILITY_SPECS)) {
    it(`are unchanged for the ${name} spec`, () => {
      const d = buildDesired(chatCluster(spec), {
        defaultImage: "ghcr.io/chatcluster/chatcluster:0.1.0",
        serviceMonitorAvailable: true,
      });
      const sts = d.objects.find((o) => o.kind === "StatefulSet") as V1StatefulSet;
      const dep = d.objects.find((o) => o.kind === "Deployment") as V1Deployment;
      const recorded = RECORDED[name];
      assert.ok(recorded, `no recorded templates for ${name}`);
      assert.deepEqual(JSON.parse(JSON.stringify(sts.spec?.template)), recorded.gateway);
      assert.deepEqual(JSON.parse(JSON.stringify(dep.spec?.template)), recorded.logic);
    });
  }
});
