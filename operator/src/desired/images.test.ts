import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatImageRef, parseImageRef, resolveImages, resolveTierImage } from "./images.ts";

const D = `sha256:${"b".repeat(64)}`;

describe("image references", () => {
  it("parse and format repository, tag and digest, a registry port not being a tag", () => {
    assert.deepEqual(parseImageRef("registry.local:5000/cc"), { repository: "registry.local:5000/cc" });
    assert.deepEqual(parseImageRef("r/cc:1.0"), { repository: "r/cc", tag: "1.0" });
    assert.deepEqual(parseImageRef(`r/cc:1.0@${D}`), { repository: "r/cc", tag: "1.0", digest: D });
    assert.equal(formatImageRef({ repository: "r/cc" }), "r/cc:latest");
    assert.equal(formatImageRef({ repository: "r/cc", tag: "1.0", digest: D }), `r/cc@${D}`);
  });

  it("resolve a tier's fields over a base, tag and digest as one unit", () => {
    const pull = { pullPolicy: "IfNotPresent" as const };
    assert.equal(resolveTierImage(pull, `r/cc@${D}`), `r/cc@${D}`);
    assert.equal(resolveTierImage({ ...pull, tag: "2.0" }, `r/cc@${D}`), "r/cc:2.0");
    assert.equal(resolveTierImage({ ...pull, repository: "m/cc" }, "r/cc:1.0"), "m/cc:1.0");
    assert.equal(resolveTierImage({ ...pull, tag: D }, "r/cc:1.0"), `r/cc@${D}`);
  });

  it("take the recorded image as the base under Manual and the default under FollowOperator", () => {
    const fields = {
      gateway: { pullPolicy: "IfNotPresent" as const },
      logic: { pullPolicy: "IfNotPresent" as const },
    };
    const recorded = { gateway: "r/cc:1.0" };
    assert.deepEqual(resolveImages({ fields, policy: "Manual", defaultImage: "r/cc:2.0", recorded }), {
      gateway: "r/cc:1.0",
      logic: "r/cc:2.0",
    });
    assert.deepEqual(
      resolveImages({ fields, policy: "FollowOperator", defaultImage: "r/cc:2.0", recorded }),
      {
        gateway: "r/cc:2.0",
        logic: "r/cc:2.0",
      },
    );
  });
});
