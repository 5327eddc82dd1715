import { waitFor } from "./util.ts";

interface Crd {
  metadata?: { name?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Waits until CRDs are Established (all of them, or those named). Polls
 * rather than `kubectl wait --for=condition=Established`: kubectl fails at
 * once ("status.conditions accessor error") on a CRD the API server has not
 * given conditions yet, which a busy machine makes likely right after apply.
 */
export async function crdsEstablished(
  kubectl: (args: string[]) => Promise<string>,
  names: readonly string[] | "all",
  timeoutMs = 60_000,
): Promise<void> {
  let pending: string[] = [];
  await waitFor(
    `CRDs Established (${names === "all" ? "all" : names.join(", ")})`,
    async () => {
      const out = JSON.parse(
        await kubectl(["get", "crd", ...(names === "all" ? [] : names), "-o", "json"]),
      ) as Crd & { items?: Crd[] };
      const crds = out.items ?? [out];
      pending = crds
        .filter((c) => !c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True"))
        .map((c) => c.metadata?.name ?? "?");
      return crds.length > 0 && pending.length === 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; not yet Established: ${pending.join(", ")}`);
  });
}
