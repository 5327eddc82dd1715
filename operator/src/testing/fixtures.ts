import { readFileSync } from "node:fs";
import { loadYaml } from "@kubernetes/client-node";
import type { ChatCluster, ChatClusterSpec } from "../api/chatcluster-types.ts";

export const CRD_PATH = new URL("../../../crds/chatclusters.chatcluster.io.yaml", import.meta.url);
export const EXAMPLE_PATH = new URL("../../../docs/examples/chatcluster.yaml", import.meta.url);

/** Parses YAML as plain data: the client's typed deserializer would rename schema fields (default, x-kubernetes-*). */
export function readYamlPlain<T>(path: URL): T {
  const text = readFileSync(path, "utf8").replace(/^kind: .*$/m, "kind: PlainYaml");
  return loadYaml<T>(text);
}

export function chatCluster(
  spec: Partial<ChatClusterSpec> = {},
  name = "demo",
  namespace = "chat",
): ChatCluster {
  return {
    apiVersion: "chatcluster.io/v1alpha1",
    kind: "ChatCluster",
    metadata: { name, namespace, uid: "0b5e6a2c-1111-4a4a-9c9c-000000000001", generation: 1 },
    spec: {
      store: { nats: { url: "nats://nats:4222" } },
      auth: { jwt: { secretKeyRef: { name: "chat-auth" } } },
      ...spec,
    },
  };
}
