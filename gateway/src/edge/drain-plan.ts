/**
 * Reconnect delays for `count` clients spread uniformly over `windowMs`.
 *
 * Stratified jitter: the window is cut into `count` equal slots, each client
 * gets a random point in one slot, and slots are dealt in random order. The
 * result is uniform like independent draws, but without their clumps, so the
 * reconnect rate other gateways see is flat over the window.
 */
export function planReconnectDelays(count: number, windowMs: number, random = Math.random): number[] {
  const slots = new Array<number>(count);
  for (let i = 0; i < count; i++) slots[i] = Math.floor(((i + random()) / count) * windowMs);
  // Fisher-Yates: which client gets which slot is random too.
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = slots[i] as number;
    slots[i] = slots[j] as number;
    slots[j] = t;
  }
  return slots;
}
