// The testenv harness: real components for integration tests.
//
//   import { startControlPlane, startNats, startNatsCluster } from "../testenv/harness/index.ts";
//
// See docs/testenv.md. Binaries come from `make testenv`; a missing one throws
// TestenvBinaryNotFoundError ("<name> not found in <dir>: run `make testenv`").
export type { TestCa, TestCert } from "./certs.ts";
export { createCa, issueCert } from "./certs.ts";
export type { ControlPlane, ControlPlaneOptions } from "./controlplane.ts";
export { FAKE_NODE_NAME, startControlPlane } from "./controlplane.ts";
export type { NatsOptions, NatsServer } from "./nats.ts";
export { startNats } from "./nats.ts";
export type { NatsCluster, NatsClusterOptions, NatsNode } from "./nats-cluster.ts";
export { startNatsCluster } from "./nats-cluster.ts";
export type { BinaryName } from "./paths.ts";
export { BINARY_NAMES, binaryPath, binDir, TestenvBinaryNotFoundError } from "./paths.ts";
export { needsReal } from "./unit-only.ts";
export { freePort, trackFailures } from "./util.ts";
