import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planToken, type TokenPlanInput } from "./token-plan.ts";

const BASE: TokenPlanInput = {
  secret: { token: "t1", previous: undefined, generation: undefined, answered: undefined },
  retired: undefined,
  workloadsExist: true,
  templateGeneration: 0,
  statusGeneration: 0,
  statusAnswered: undefined,
  requested: undefined,
};
const input = (o: Partial<TokenPlanInput>): TokenPlanInput => ({ ...BASE, ...o });

describe("planToken", () => {
  it("creates a first token for a new ChatCluster and keeps an existing one", () => {
    assert.deepEqual(planToken(input({ secret: undefined, workloadsExist: false })).action, {
      kind: "create",
      token: undefined,
      generation: 0,
      previous: undefined,
      answered: undefined,
    });
    assert.deepEqual(planToken(BASE), { action: { kind: "keep" }, waiting: false });
  });

  it("rotates on a new request, keeping the current token as the previous", () => {
    assert.deepEqual(planToken(input({ requested: "2026-01-01" })).action, {
      kind: "rotate",
      generation: 1,
      answered: "2026-01-01",
    });
    // The same request is answered once.
    const answered = { token: "t2", previous: undefined, generation: 1, answered: "2026-01-01" };
    assert.equal(planToken(input({ secret: answered, requested: "2026-01-01" })).action.kind, "keep");
  });

  it("holds a new request while a rotation is still rolling out", () => {
    const rotating = { token: "t2", previous: "t1", generation: 1, answered: "a" };
    assert.deepEqual(planToken(input({ secret: rotating, requested: "b" })), {
      action: { kind: "keep" },
      waiting: true,
    });
  });

  it("turns a deleted Secret into a rotation from the token the pods hold", () => {
    assert.deepEqual(
      planToken(
        input({
          secret: undefined,
          retired: { token: "t1", previous: undefined, generation: 2 },
          templateGeneration: 2,
        }),
      ).action,
      { kind: "create", token: undefined, generation: 3, previous: "t1", answered: undefined },
    );
  });

  it("restores a Secret deleted mid-rotation as it was: a third token would strand the pods of the first", () => {
    const retired = { token: "t2", previous: "t1", generation: 1 };
    assert.deepEqual(planToken(input({ secret: undefined, retired, templateGeneration: 1 })), {
      action: { kind: "create", token: "t2", generation: 1, previous: "t1", answered: undefined },
      waiting: true,
    });
  });

  it("creates no token while pods hold one nobody remembers, unless a new rotation is requested", () => {
    const lost = input({
      secret: undefined,
      templateGeneration: 1,
      statusGeneration: 1,
      statusAnswered: "a",
    });
    assert.deepEqual(planToken(lost).action, { kind: "lost", generation: 1 });
    assert.deepEqual(planToken({ ...lost, requested: "a" }).action, { kind: "lost", generation: 1 });
    assert.deepEqual(planToken({ ...lost, requested: "b" }).action, {
      kind: "create",
      token: undefined,
      generation: 2,
      previous: undefined,
      answered: "b",
    });
  });

  it("adopts a Secret recreated by hand at the generation the pods run, the answered request included", () => {
    assert.deepEqual(planToken(input({ templateGeneration: 2, statusAnswered: "a" })).action, {
      kind: "adopt",
      generation: 2,
      answered: "a",
    });
    // Adopted, the request it answered starts no rotation.
    const adopted = { token: "t1", previous: undefined, generation: 2, answered: "a" };
    assert.equal(
      planToken(input({ secret: adopted, templateGeneration: 2, requested: "a" })).action.kind,
      "keep",
    );
  });
});
