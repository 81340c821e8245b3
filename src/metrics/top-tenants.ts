interface Tracked {
  /** Space-saving estimate: requests seen, plus what the tenant it replaced had. Decides who stays. */
  estimate: number;
  /** Requests counted under this tenant's own label since it was last admitted. */
  count: number;
}

/**
 * Which tenants get a label of their own in the per-tenant request counter, with at most `capacity` of
 * them at any time: the space-saving algorithm (Metwally et al.). A tenant not tracked replaces the one
 * with the lowest estimate and inherits that estimate, so frequent tenants stay and rare ones rotate.
 *
 * Everything not counted under a tracked tenant is `other`: requests of untracked tenants and what an
 * evicted tenant had counted. Both per-tenant counts and `other` only ever grow while a tenant stays, and
 * the sum of all of them is the total, so `sum(rate(...))` is the whole traffic.
 */
export class TopTenants {
  readonly #tracked = new Map<string, Tracked>();
  #total = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new TypeError('capacity must be ≥ 1');
  }

  record(tenantId: string): void {
    this.#total += 1;
    const tracked = this.#tracked.get(tenantId);
    if (tracked) {
      tracked.estimate += 1;
      tracked.count += 1;
      return;
    }
    let inherited = 0;
    if (this.#tracked.size >= this.capacity) {
      // A linear scan: capacity is small (a hundred or so) and only untracked tenants pay for it.
      let victim: string | undefined;
      let lowest = Number.POSITIVE_INFINITY;
      for (const [id, entry] of this.#tracked) {
        if (entry.estimate < lowest) {
          lowest = entry.estimate;
          victim = id;
        }
      }
      if (victim !== undefined) this.#tracked.delete(victim);
      inherited = lowest;
    }
    this.#tracked.set(tenantId, { estimate: inherited + 1, count: 1 });
  }

  /** Requests counted per tracked tenant. */
  counts(): Array<[tenantId: string, count: number]> {
    return [...this.#tracked].map(([id, entry]) => [id, entry.count]);
  }

  /** Requests not counted under a tracked tenant. */
  get other(): number {
    let tracked = 0;
    for (const entry of this.#tracked.values()) tracked += entry.count;
    return this.#total - tracked;
  }

  get total(): number {
    return this.#total;
  }
}
