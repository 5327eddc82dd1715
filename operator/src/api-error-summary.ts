import { OperatorError } from "./operator-error.ts";
import { asSentence as end } from "./sentence.ts";

/**
 * One sentence a user can act on, for conditions and Events, instead of the
 * raw `PATCH /apis/apps/v1/... 422 ...` line (which stays in the log). The
 * API server's own explanation is kept, minus the object prefix it repeats.
 */

export interface Attempt {
  /** What the operator tried: apply, create, delete, read, "update the status of". */
  verb: string;
  kind: string;
  name: string;
  namespace: string;
}

export function summarizeError(err: unknown, a: Attempt): string {
  const obj = `${a.kind} ${a.name}`;
  if (!(err instanceof OperatorError) || err.answer === undefined) {
    return end(`Could not ${a.verb} ${obj}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const said = err.answer.message;
  if (err.code === "api_unreachable") {
    return end(`Could not reach the API server to ${a.verb} ${obj} (${said}); retrying with backoff`);
  }
  // "StatefulSet.apps \"x\" is invalid: spec...: ..." -> "spec...: ..."
  const detail = said.replace(/^[\w.]+ "[^"]*" is (invalid|forbidden): /, "");
  switch (err.status) {
    case 422:
    case 400:
      if (/admission webhook/.test(said))
        return end(`An admission webhook refused to ${a.verb} ${obj}: ${detail}`);
      return end(`The API server refused ${obj} as invalid: ${detail}`);
    case 403:
      if (/admission webhook/.test(said))
        return end(`An admission webhook refused to ${a.verb} ${obj}: ${detail}`);
      if (/cannot \w+ resource/.test(said)) {
        return end(
          `The operator is not allowed to ${a.verb} ${obj} in namespace ${a.namespace}; grant the permissions listed in docs/operator.md (${detail})`,
        );
      }
      return end(`The API server forbade to ${a.verb} ${obj}: ${detail}`);
    case 404:
      return end(`Could not ${a.verb} ${obj}: the API server does not know it (${detail})`);
    case 409:
      return end(`${obj} changed while the operator tried to ${a.verb} it; retrying`);
    case 429:
      return end(`The API server is throttling requests; ${a.verb} ${obj} will be retried`);
    default:
      return end(
        `The API server failed to ${a.verb} ${obj} (HTTP ${err.status ?? "?"}: ${detail}); retrying with backoff`,
      );
  }
}
