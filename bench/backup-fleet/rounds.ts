/**
 * bench:backup-fleet's two ways of backing up the whole fleet once, on the same workers: every backup
 * requested one after another (each waited for before the next), and one round of the backup schedule
 * with every tenant due at once.
 */
import { BACKUP_QUEUE } from '../../src/backup/backup-jobs.js';
import { requestBackup } from '../../src/backup/backup-operations.js';
import { SCHEDULED_BACKUP_SHARE } from '../../src/backup/schedules/schedule-tick.js';
import { TEST_ACTOR } from '../../test/support/test-plane.js';
import type { Plane } from '../lib/admin-planes.js';
import { BenchFailure } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { median } from '../lib/stats.js';
import { type ConnectionPeaks, sampleConnections } from './connection-sampler.js';
import type { Fleet } from './fleet.js';

export interface SequentialResult {
  wallMs: number;
  backups: number;
  medianBackupMs: number;
  connections: ConnectionPeaks;
}

export interface ServerRound {
  backups: number;
  /** Scheduled backups of this server running at once at most (from their requests' start and end). */
  mostAtOnce: number;
  /** What the schedule allows at once on it: max_connections × SCHEDULED_BACKUP_SHARE, at least one. */
  cap: number;
}

export interface ScheduledResult {
  wallMs: number;
  backups: number;
  failed: number;
  /** Tenants with two scheduled backups running at once (wanted: none). */
  overlapping: number;
  /** Tenants whose next daily slot came within the round, and were backed up for it too (after the first). */
  nextSlot: number;
  /** Per server id. */
  perServer: Record<string, ServerRound>;
  connections: ConnectionPeaks;
}

/** Every tenant's backup requested and waited for, one after another. */
export async function sequentialBackups(
  plane: Plane,
  fleet: Fleet,
  sampleMs: number,
): Promise<SequentialResult> {
  const sampler = await sampleConnections(
    fleet.servers.map((server) => server.role),
    sampleMs,
  );
  const times: number[] = [];
  const began = performance.now();
  let connections: ConnectionPeaks;
  try {
    for (const [i, tenantId] of fleet.tenants.entries()) {
      const started = performance.now();
      const queued = await requestBackup(plane.tp.backups, tenantId, { compress: true, actor: TEST_ACTOR });
      await plane.tp.jobs.wait(BACKUP_QUEUE, queued.jobId);
      times.push(performance.now() - started);
      if ((i + 1) % 100 === 0) log(`  ${i + 1} / ${fleet.tenants.length} backed up one after another`);
    }
  } finally {
    connections = await sampler.stop();
  }
  return {
    wallMs: performance.now() - began,
    backups: times.length,
    medianBackupMs: median(times),
    connections,
  };
}

const ROUND_TIMEOUT_MS = 30 * 60_000;

/**
 * One round of the schedule: a daily schedule for the fleet's tiers, set (as far as the catalog knows) two
 * days ago, so every tenant's slot is due at once as after workers that were down for a day; the round ends
 * when every tenant has a finished scheduled backup.
 */
export async function scheduledRound(
  plane: Plane,
  fleet: Fleet,
  tiers: string[],
  sampleMs: number,
): Promise<ScheduledResult> {
  const { knex } = plane.tp;
  await knex('tenants')
    .whereIn('id', fleet.tenants)
    .update({ created_at: knex.raw("now() - interval '2 days'") });
  for (const tier of tiers) {
    await plane.tp.backups.schedules.set(
      { tier, everySeconds: 86400, keepCount: 5, keepDays: null, drillEverySeconds: null },
      TEST_ACTOR,
    );
  }
  const sampler = await sampleConnections(
    fleet.servers.map((server) => server.role),
    sampleMs,
  );
  const scheduled = () =>
    knex('backup_requests').where({ kind: 'backup' }).whereLike('idempotency_key', 'schedule-%');
  let connections: ConnectionPeaks;
  let startedAt: Date;
  try {
    const [row] = await knex('backup_schedules')
      .whereIn('tier', tiers)
      .update({ updated_at: knex.raw("now() - interval '2 days'") })
      .returning(knex.raw('clock_timestamp() AS at'));
    startedAt = row.at as Date;
    const deadline = performance.now() + ROUND_TIMEOUT_MS;
    let last = -1;
    for (;;) {
      const [{ n }] = await scheduled().clone().whereNotNull('finished_at').countDistinct({ n: 'tenant_id' });
      const finished = Number(n);
      if (finished >= fleet.tenants.length) break;
      if (Math.floor(finished / 100) !== Math.floor(last / 100))
        log(`  ${finished} / ${fleet.tenants.length} backed up by the schedule`);
      last = finished;
      if (performance.now() > deadline)
        throw new BenchFailure(`the round did not finish within ${ROUND_TIMEOUT_MS / 60000} min`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    connections = await sampler.stop();
  }
  const requests = (await scheduled()
    .orderBy('created_at')
    .select('tenant_id', 'state', 'created_at', 'finished_at')) as Array<{
    tenant_id: string;
    state: string;
    created_at: Date;
    finished_at: Date;
  }>;
  // The round is each tenant's first scheduled backup; a tenant whose next daily slot fell within the
  // round has a second one, which must start after its first ended, never beside it.
  const byTenant = new Map<string, typeof requests>();
  for (const request of requests)
    byTenant.set(request.tenant_id, [...(byTenant.get(request.tenant_id) ?? []), request]);
  const firsts = [...byTenant.values()].map((mine) => mine[0]!);
  const overlapping = [...byTenant.values()].filter((mine) =>
    mine.some((request, i) => i > 0 && request.created_at < mine[i - 1]!.finished_at),
  ).length;
  const perServer: Record<string, ServerRound> = {};
  for (const server of fleet.servers) {
    const mine = requests.filter((request) => fleet.serverOf.get(request.tenant_id) === server.id);
    let mostAtOnce = 0;
    for (const request of mine) {
      const running = mine.filter(
        (other) => other.created_at <= request.created_at && other.finished_at > request.created_at,
      ).length;
      mostAtOnce = Math.max(mostAtOnce, running);
    }
    perServer[server.id] = {
      backups: firsts.filter((request) => fleet.serverOf.get(request.tenant_id) === server.id).length,
      mostAtOnce,
      cap: Math.max(1, Math.floor(server.maxConnections * SCHEDULED_BACKUP_SHARE)),
    };
  }
  const lastFinish = Math.max(...firsts.map((request) => request.finished_at.getTime()));
  return {
    wallMs: lastFinish - startedAt.getTime(),
    backups: firsts.filter((request) => request.state === 'completed').length,
    failed: firsts.filter((request) => request.state === 'failed').length,
    overlapping,
    nextSlot: [...byTenant.values()].filter((mine) => mine.length > 1).length,
    perServer,
    connections,
  };
}
