// The check `helm test` runs (templates/tests/operator-answers.yaml): the
// operator's metrics Service answers /readyz, and what answers /metrics is
// the ChatCluster operator.
const base = process.env.OPERATOR_URL;
const get = async (path) => {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
};
try {
  const ready = await get("/readyz");
  if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status}: ${ready.body.trim()}`);
  const metrics = await get("/metrics");
  if (!/^chatcluster_build_info\{[^}]*role="operator"/m.test(metrics.body))
    throw new Error("/metrics does not come from the ChatCluster operator");
  console.log(`the operator at ${base} is ready`);
} catch (err) {
  console.error(`operator check failed: ${base}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
