/** A shard as a rebalance weighs it: its server's region, whether it takes tenants, its tenants' bytes. */
export interface ShardLoad {
  id: string;
  region: string | null;
  /** On a draining server: tenants may leave it, none may come. */
  draining: boolean;
  tenants: Array<{ id: string; region: string | null; bytes: number }>;
}

/** One move of a rebalance plan. */
export interface PlannedMove {
  tenant_id: string;
  from: string;
  to: string;
  bytes: number;
}

export interface RebalanceOptions {
  /** Most moves to plan. */
  maxMoves: number;
  /**
   * The least a move must narrow the gap between the two shards it joins, in bytes: a move for less is not
   * worth its copy and its pause.
   */
  minGainBytes: number;
}

/** The smallest gain worth a move by default: 5% of the mean shard's bytes, and never under 1 MiB. */
export function defaultMinGainBytes(shards: readonly ShardLoad[]): number {
  const total = shards.reduce((sum, shard) => sum + bytesOf(shard), 0);
  const mean = shards.length > 0 ? total / shards.length : 0;
  return Math.max(1024 * 1024, Math.round(mean * 0.05));
}

function bytesOf(shard: ShardLoad): number {
  return shard.tenants.reduce((sum, tenant) => sum + tenant.bytes, 0);
}

/**
 * Plans moves that even out the shards' bytes, greedily: each step takes, over every pair of shards and
 * every tenant that may go from the fuller to the emptier (a pinned tenant only within its region, nothing
 * onto a draining server, no tenant twice), the move that narrows that pair's gap the most (moving `b` bytes across a gap
 * `d` leaves `|d - 2b|`), and stops when the best gain is under `minGainBytes` or after `maxMoves`.
 * Deterministic for the same loads: ties go to the first shard and tenant by id.
 */
export function planRebalance(loads: readonly ShardLoad[], options: RebalanceOptions): PlannedMove[] {
  const shards = [...loads]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((shard) => ({
      ...shard,
      bytes: bytesOf(shard),
      tenants: [...shard.tenants].sort((a, b) => a.id.localeCompare(b.id)),
    }));
  const moves: PlannedMove[] = [];
  // A tenant moves once per plan at most: a second hop would copy it twice for one gain.
  const moved = new Set<string>();
  while (moves.length < options.maxMoves) {
    let best:
      | { gain: number; from: (typeof shards)[number]; to: (typeof shards)[number]; index: number }
      | undefined;
    for (const from of shards) {
      for (const to of shards) {
        const gap = from.bytes - to.bytes;
        if (to === from || to.draining || gap <= 0) continue;
        from.tenants.forEach((tenant, index) => {
          if (moved.has(tenant.id) || (tenant.region !== null && tenant.region !== to.region)) return;
          const gain = gap - Math.abs(gap - 2 * tenant.bytes);
          if (gain >= options.minGainBytes && gain > (best?.gain ?? 0)) best = { gain, from, to, index };
        });
      }
    }
    if (!best) break;
    const [tenant] = best.from.tenants.splice(best.index, 1);
    best.to.tenants.push(tenant!);
    best.to.tenants.sort((a, b) => a.id.localeCompare(b.id));
    best.from.bytes -= tenant!.bytes;
    best.to.bytes += tenant!.bytes;
    moved.add(tenant!.id);
    moves.push({ tenant_id: tenant!.id, from: best.from.id, to: best.to.id, bytes: tenant!.bytes });
  }
  return moves;
}
