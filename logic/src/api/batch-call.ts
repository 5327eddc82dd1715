import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type BatchCommand,
  type BatchRequest,
  type BatchResponse,
  BatchResponseSchema,
  type BatchResult,
  BatchResultSchema,
} from "../../../gen/chatcluster/v1/chat_api_pb.js";
import type { ChatServiceDeps } from "./api-deps.ts";
import { callError, invalid, toConnectError } from "./api-errors.ts";

/** Commands one Batch may carry. */
export const MAX_BATCH_COMMANDS = 100;

type CommandCase = NonNullable<BatchCommand["command"]["case"]>;
type CommandValue<K extends CommandCase> = Extract<BatchCommand["command"], { case: K }>["value"];
type ResultKind = NonNullable<BatchResult["result"]>;

/** Each command a batch may carry and the call that runs it, answering the same response as that call. */
export type BatchRoutes = {
  readonly [K in CommandCase]?: (
    d: ChatServiceDeps,
    req: CommandValue<K>,
  ) => Promise<Extract<ResultKind, { case: K }>["value"]>;
};

/**
 * Several commands in one call, run one after the other in request order
 * (each waits for the previous one's answer, so a Publish after a Subscribe
 * finds the subscription sent). A failed command answers its own error and
 * does not stop the ones after it.
 */
export async function batch(
  d: ChatServiceDeps,
  req: BatchRequest,
  routes: BatchRoutes,
): Promise<BatchResponse> {
  if (req.commands.length > MAX_BATCH_COMMANDS) throw invalid(`commands: at most ${MAX_BATCH_COMMANDS}`);
  const results: BatchResult[] = [];
  for (const cmd of req.commands) {
    const k = cmd.command;
    let result: BatchResult;
    try {
      if (k.case === undefined) throw invalid("empty command");
      const run = routes[k.case] as ((d: ChatServiceDeps, v: unknown) => Promise<unknown>) | undefined;
      if (run === undefined)
        throw new ConnectError(`${k.case} is not available in a batch`, Code.Unimplemented);
      const value = await run(d, k.value);
      result = create(BatchResultSchema, { result: { case: k.case, value } as ResultKind });
    } catch (err) {
      result = create(BatchResultSchema, {
        result: { case: "error", value: callError(toConnectError(err, d.log, `Batch.${k.case ?? "empty"}`)) },
      });
    }
    results.push(result);
  }
  return create(BatchResponseSchema, { results });
}
