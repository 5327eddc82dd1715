/**
 * The `skip` option of a suite that needs a real component (nats-server, the
 * control plane, helm, Prometheus, Chromium...). Under `make test` nothing
 * skips: a missing component fails the suite with the command that provides
 * it. Only `make test-unit` (CHATCLUSTER_UNIT_ONLY=1), a quick loop for
 * machines without the test environment, skips such suites and says why.
 */
export function needsReal(component: string): string | false {
  return process.env.CHATCLUSTER_UNIT_ONLY === "1" && `CHATCLUSTER_UNIT_ONLY=1: needs ${component}`;
}
