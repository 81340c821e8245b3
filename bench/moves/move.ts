/** One tier move of bench:moves, through the admin API while write loops run, and what became of the writes. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cutover } from '../../src/moves/tenant-mover.js';
import { RequestLoad, send } from '../../test/support/request-load.js';
import type { AdminName } from '../lib/admin-planes.js';
import { type CutoverName, type DIRECTIONS, type Direction, type Side, tenantRowsNow } from './side.js';

export interface Settings {
  /** The tenant sizes, in rows: a tenant each on every plane. */
  sizes: number[];
  repeat: number;
  writers: number;
  writePauseMs: number;
  moveTimeoutS: number;
}

export interface MoveRun {
  admin: AdminName;
  /** The plane's MOVE_CUTOVER, and how the move's pause found the changes (`compared` when capture fell back). */
  cutover: CutoverName;
  cutoverUsed: Cutover;
  rows: number;
  round: number;
  direction: Direction;
  jobId: string;
  rowsCopied: number;
  rowsResynced: number;
  pauseMs: number;
  confirmMs: number;
  durationMs: number;
  writes: {
    acknowledged: number;
    /** 503 tenant_moving, with Retry-After. */
    refusedMoving: number;
    refusedWithoutRetryAfter: number;
    /** Any other answer: `status code` → count. */
    other: Record<string, number>;
  };
  /** The tenant's rows in its new database, and how many acknowledged writes are not among them. */
  rowsAfter: number;
  missingAcknowledged: number;
  /** Rows beyond the seed and the acknowledged writes (a write whose answer was lost after it committed). */
  unacknowledgedRows: number;
}

async function waitForJob(side: Side, jobId: string, timeoutS: number) {
  const deadline = performance.now() + timeoutS * 1000;
  for (;;) {
    if (performance.now() > deadline) throw new Error(`move ${jobId} not done after ${timeoutS} s`);
    const job = await send(side.base, 'GET', `/admin/v1/jobs/${jobId}`, side.adminToken);
    if (job.status !== 200) throw new Error(`GET job ${jobId}: ${job.status} ${JSON.stringify(job.body)}`);
    if (job.body.state === 'completed' || job.body.state === 'failed') return job.body;
    await sleep(100);
  }
}

/** One move through the admin API while the write loops run, from before it is asked for until after it ends. */
export async function moveOnce(
  side: Side,
  round: number,
  direction: (typeof DIRECTIONS)[number],
  settings: Settings,
): Promise<MoveRun> {
  const load = new RequestLoad(side.base, `${side.admin}-${side.cutover}-${round}-${direction.tier}`);
  for (let writer = 0; writer < settings.writers; writer++) {
    load.run(side.tenantId, side.tenantToken, 'write', settings.writePauseMs);
  }
  let job: { state: string; error?: string; result?: Record<string, number | string> } | undefined;
  let jobId = '';
  try {
    const deadline = performance.now() + 10000;
    while (!load.outcomes.some((outcome) => outcome.status === 201)) {
      if (performance.now() > deadline) throw new Error('no write was acknowledged before the move');
      await sleep(20);
    }
    await sleep(500);
    const requested = await send(side.base, 'PATCH', `/admin/v1/tenants/${side.tenantId}`, side.adminToken, {
      tier: direction.tier,
    });
    if (requested.status !== 202) {
      throw new Error(`PATCH tier ${direction.tier}: ${requested.status} ${JSON.stringify(requested.body)}`);
    }
    jobId = requested.body.job_id;
    job = await waitForJob(side, jobId, settings.moveTimeoutS);
    await sleep(500);
  } finally {
    await load.stop();
  }
  if (job?.state !== 'completed')
    throw new Error(`move ${jobId} (${side.admin} admin, ${side.cutover}) failed: ${job?.error}`);

  const writes: MoveRun['writes'] = {
    acknowledged: 0,
    refusedMoving: 0,
    refusedWithoutRetryAfter: 0,
    other: {},
  };
  for (const outcome of load.outcomes) {
    if (outcome.status === 201 && outcome.id) {
      writes.acknowledged += 1;
      side.acknowledged.add(outcome.id);
    } else if (outcome.status === 503 && outcome.code === 'tenant_moving') {
      writes.refusedMoving += 1;
      if (!outcome.retryAfter) writes.refusedWithoutRetryAfter += 1;
    } else {
      const key = `${outcome.status}${outcome.code ? ` ${outcome.code}` : ''}${outcome.error ? ` ${outcome.error}` : ''}`;
      writes.other[key] = (writes.other[key] ?? 0) + 1;
    }
  }
  const rows = await tenantRowsNow(side, [...side.acknowledged]);
  const result = job.result!;
  return {
    admin: side.admin,
    cutover: side.cutover,
    cutoverUsed: result.cutover as Cutover,
    rows: side.rows,
    round,
    direction: direction.name,
    jobId,
    rowsCopied: Number(result.rows_copied),
    rowsResynced: Number(result.rows_resynced),
    pauseMs: Number(result.pause_ms),
    confirmMs: Number(result.confirm_ms),
    durationMs: Number(result.duration_ms),
    writes,
    rowsAfter: rows.total,
    missingAcknowledged: side.acknowledged.size - rows.present,
    unacknowledgedRows: rows.total - side.rows - side.acknowledged.size,
  };
}

export function describe(run: MoveRun): string {
  const other = Object.entries(run.writes.other).map(([key, count]) => `${count}× ${key}`);
  return (
    `  ${String(run.rows).padStart(8)} ${run.direction.padEnd(12)} ${run.admin.padEnd(9)} ${run.cutoverUsed.padEnd(8)} ` +
    `pause ${run.pauseMs} ms (confirm ${run.confirmMs} ms), ` +
    `${(run.durationMs / 1000).toFixed(1)} s in all, ${run.rowsResynced} rows re-synced; writes ` +
    `${run.writes.acknowledged} acknowledged, ${run.writes.refusedMoving} refused tenant_moving` +
    (run.writes.refusedWithoutRetryAfter > 0
      ? ` (${run.writes.refusedWithoutRetryAfter} without Retry-After)`
      : '') +
    (other.length > 0 ? `, other: ${other.join(', ')}` : '') +
    (run.missingAcknowledged > 0
      ? `; ${run.missingAcknowledged} ACKNOWLEDGED WRITES MISSING`
      : '; all present')
  );
}
