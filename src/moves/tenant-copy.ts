import type pg from 'pg';
import { beginBulkLoad } from '../provisioning/tenant-bulk-load.js';
import { beginAsTenant } from '../tenant-session/tenant-transaction.js';
import { inMoveTransactions } from './move-connections.js';
import { copyTable } from './row-copier.js';
import { bucketDigests, resyncTable } from './row-resync.js';
import type { TableLayout } from './table-layout.js';

export type MovePhase = 'preparing' | 'copying' | 'catching_up' | 'paused' | 'switched' | 'cleaning' | 'done';

/** What a move reports as it goes (the job's progress). */
export interface MoveProgress {
  phase: MovePhase;
  table?: string;
  rows?: number;
}

export type OnProgress = (progress: MoveProgress) => Promise<void> | void;

/** Digests of a database's rows of the tenant, per table and bucket (see row-resync.ts). */
export type TenantDigests = Map<string, Map<string, string>>;

/** Progress from inside a stream: not awaited (the rows do not wait for the queue), failures ignored. */
function reportQuietly(onProgress: OnProgress, progress: MoveProgress): void {
  try {
    void Promise.resolve(onProgress(progress)).catch(() => {});
  } catch {
    // Progress is informative only.
  }
}

/**
 * Copies every tenant table from one snapshot of the source; returns the rows copied. Each table is loaded
 * the way the target's admin role may (see BulkLoadPath): `targetExclusive` says the target holds no other
 * tenant's rows and serves no one yet (a dedicated database being built for the move), so its tables may be
 * locked until the copy commits; never for a shard, whose other tenants keep working meanwhile.
 */
export async function copyTenant(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layouts: TableLayout[],
  onProgress: OnProgress,
  options: { targetExclusive?: boolean } = {},
): Promise<number> {
  let copied = 0;
  await inMoveTransactions(source, target, tenantId, async () => {
    for (const layout of layouts) {
      await onProgress({ phase: 'copying', table: layout.name, rows: copied });
      const before = copied;
      const load = await beginBulkLoad(target, {
        table: layout.name,
        columns: layout.columns,
        tenantId,
        exclusive: options.targetExclusive ?? false,
      });
      copied += await copyTable(source, target, tenantId, layout, load.copyInto, (rows) =>
        reportQuietly(onProgress, { phase: 'copying', table: layout.name, rows: before + rows }),
      );
      await load.finish();
    }
  });
  return copied;
}

/**
 * Brings the target up to one new snapshot of the source, every table in one target transaction; returns
 * the rows removed and copied. `targetDigests`, when given, must still describe the target.
 */
export function resyncTenant(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layouts: TableLayout[],
  targetDigests?: TenantDigests,
): Promise<number> {
  return inMoveTransactions(source, target, tenantId, async () => {
    let changed = 0;
    for (const layout of layouts) {
      const count = await resyncTable(source, target, tenantId, layout, targetDigests?.get(layout.name));
      changed += count.copied + count.removed;
    }
    return changed;
  });
}

/** The bucket digests of every tenant table of a database, from one snapshot. */
export async function digestTenant(
  client: pg.Client,
  tenantId: string,
  layouts: TableLayout[],
): Promise<TenantDigests> {
  const digests: TenantDigests = new Map();
  await beginAsTenant(client, tenantId, true);
  try {
    for (const layout of layouts) digests.set(layout.name, await bucketDigests(client, tenantId, layout));
  } finally {
    await client.query('ROLLBACK');
  }
  return digests;
}
