import { ROUTER_BUDGET_SHARE } from '../../catalog/connection-budget.js';
import { UnavailableError } from '../../errors/index.js';
import { LossReportingClient } from '../../postgres/connection-loss.js';

/**
 * Connections a drill holds on its server at once: one on the scratch database (the migration, then the
 * load), and a short one on the server's admin database (create, drop, the check that it is gone).
 */
export const CONNECTIONS_PER_DRILL = 2;

/**
 * Drills at once on a server, across every process: half of the budget outside the routers' share
 * (ROUTER_BUDGET_SHARE), which moves, restores and migrations use too, at CONNECTIONS_PER_DRILL each; at
 * least one.
 */
export function drillSlotsFor(maxConnections: number): number {
  // Rounded first: 1 - 0.8 is 0.19999999999999996 in floating point, which would make 40 × it less than 8.
  const outsideRouters = Math.round(maxConnections * (1 - ROUTER_BUDGET_SHARE) * 1000) / 1000;
  return Math.max(1, Math.floor(outsideRouters / 2 / CONNECTIONS_PER_DRILL));
}

const POLL_MS = 500;

/**
 * Runs `work` holding one of the server's `slots` drill slots: session advisory locks on the control
 * database (`hashtext('tenantplane.drill:<server>')`, slot number), so drills of every worker together stay
 * within the server's budget. Waits for a free slot up to `waitMs`, then fails with 503 `unavailable`. The
 * lock goes with its session, so a process that dies frees its slot.
 */
export async function withDrillSlot<T>(
  controlDatabaseUrl: string,
  serverId: string,
  slots: number,
  waitMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const client = new LossReportingClient({
    connectionString: controlDatabaseUrl,
    connectionTimeoutMillis: 10000,
    application_name: 'tenantplane-drill',
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const deadline = performance.now() + waitMs;
    for (;;) {
      const { rows } = await client.query<{ slot: number | null }>(
        `SELECT (SELECT s FROM generate_series(0, $2 - 1) s
                  WHERE pg_try_advisory_lock(hashtext('tenantplane.drill:' || $1), s) LIMIT 1) AS slot`,
        [serverId, slots],
      );
      if (rows[0]?.slot !== null && rows[0]?.slot !== undefined) break;
      if (performance.now() >= deadline) {
        throw new UnavailableError(
          `all ${slots} drill slots of server ${serverId} stayed taken for ${Math.round(waitMs / 1000)} s`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return await work();
  } finally {
    // Released before the session ends, which the server notices only a little later.
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    await client.end().catch(() => {});
  }
}
