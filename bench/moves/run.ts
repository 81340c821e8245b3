/**
 * `npm run bench:moves`: the tier-move pause. A tenant with --rows rows moves from its shard to a dedicated
 * database and back, --repeat times, while writes run through the HTTP API of the plane's service; under the
 * superuser admin, a managed-PostgreSQL-style admin, or both interleaved (--admin). After each move every
 * write the API acknowledged must be in the tenant's new database. See README.md.
 */
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DevIssuer } from '../../src/auth/dev-issuer.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { RequestLoad, send } from '../../test/support/request-load.js';
import { adminQuery } from '../../test/support/test-plane.js';
import {
  ADMIN_HELP,
  type AdminName,
  type AdminPlane,
  inRoundOrder,
  MANAGED_TARGET,
  managedRatio,
  parseAdmins,
  ratioText,
  withAdminPlanes,
} from '../backup/admin-planes.js';
import { log } from '../lib/log.js';
import { numberOption, parseFlags } from '../lib/options.js';
import { resultFiles, writeJson } from '../lib/results.js';
import { median } from '../lib/stats.js';
import { check, fixed, table, targetsTable } from '../lib/tables.js';

const TENANT = 'mover';
const SHARD = 'shard-one';
const SERVER = 'pg-bench';

/** Each round moves the tenant there and back: shard tier (starter) → enterprise → starter. */
const DIRECTIONS = [
  { name: 'to dedicated', tier: 'enterprise' },
  { name: 'to shard', tier: 'starter' },
] as const;
type Direction = (typeof DIRECTIONS)[number]['name'];

const HELP = `npm run bench:moves -- [flags]

  --rows N           rows of the moving tenant: 3/4 deployments, 1/4 workflows (default 100000)
  --repeat N         rounds, each a move to a dedicated database and one back to the shard (default 3)
  --writers N        concurrent write loops (POST /api/v1/deployments) during each move (default 4)
  --write-pause-ms N pause between one loop's requests, in ms (default 10)
  --move-timeout-s N a move not done by then fails the run (default 180)
${ADMIN_HELP}
  --help
`;

interface Settings {
  rows: number;
  repeat: number;
  writers: number;
  writePauseMs: number;
  moveTimeoutS: number;
}

interface Side extends AdminPlane {
  base: string;
  tenantToken: string;
  adminToken: string;
  /** Every row id the API acknowledged (201) so far, over all moves: none is ever deleted. */
  acknowledged: Set<string>;
}

interface MoveRun {
  admin: AdminName;
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

/** A plane's service with the tenant on the shard, `rows` rows seeded straight into the shard database. */
async function prepare(entry: AdminPlane, rows: number): Promise<Side> {
  const { plane } = entry;
  // Quotas are not what this measures: writes run flat out, past a starter's.
  await adminQuery(
    `${plane.prefix}_control`,
    'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
  );
  await plane.tp.shards.add({ id: SHARD, serverId: SERVER }, { actor: 'bench' });
  await plane.tp.tenants.create({ id: TENANT, tier: 'starter' }, { actor: 'bench' });
  const shardDatabase = (await plane.tp.catalog.getDatabase(SHARD))!.databaseName;
  const workflows = Math.floor(rows / 4);
  await adminQuery(
    shardDatabase,
    `INSERT INTO deployments (tenant_id, project_name, status, url)
       SELECT $1, 'seed-' || n, 'ready', 'https://deploy.example.com/' || md5(n::text)
         FROM generate_series(1, $2::int) n`,
    [TENANT, rows - workflows],
  );
  await adminQuery(
    shardDatabase,
    `INSERT INTO workflows (tenant_id, name, status, config)
       SELECT $1, 'flow-' || n, 'idle', jsonb_build_object('steps', n % 9, 'image', 'node:20')
         FROM generate_series(1, $2::int) n`,
    [TENANT, workflows],
  );
  await adminQuery(shardDatabase, 'VACUUM ANALYZE');
  // Tokens from the plane's development issuer, whose key is in its data folder.
  const issuer = await DevIssuer.load(plane.dataDir);
  return {
    ...entry,
    base: await plane.listen(),
    tenantToken: await issuer.mint({ tenantId: TENANT }),
    adminToken: await issuer.mint({ admin: true }),
    acknowledged: new Set(),
  };
}

/** The database the catalog places the tenant in, and its rows there (read as the superuser). */
async function tenantRowsNow(side: Side, ids: string[]): Promise<{ total: number; present: number }> {
  const tenant = await side.plane.tp.catalog.requireTenant(TENANT);
  const database = (await side.plane.tp.catalog.getDatabase(tenant.databaseId!))!.databaseName;
  const result = await adminQuery<{ total: string; present: string }>(
    database,
    `SELECT (SELECT count(*) FROM deployments WHERE tenant_id = $1)
          + (SELECT count(*) FROM workflows WHERE tenant_id = $1) AS total,
            (SELECT count(*) FROM deployments WHERE tenant_id = $1 AND id = ANY($2::uuid[])) AS present`,
    [TENANT, ids],
  );
  return { total: Number(result.rows[0]!.total), present: Number(result.rows[0]!.present) };
}

/** The errors of the tenant's failed move attempts, as the catalog's audit log has them (a job retries once). */
async function failedAttempts(side: Side): Promise<string[]> {
  const result = await adminQuery<{ error: string }>(
    `${side.plane.prefix}_control`,
    `SELECT details->>'error' AS error FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.move_failed' ORDER BY id`,
    [TENANT],
  );
  return result.rows.map((row) => row.error);
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
async function moveOnce(
  side: Side,
  round: number,
  direction: (typeof DIRECTIONS)[number],
  settings: Settings,
): Promise<MoveRun> {
  const load = new RequestLoad(side.base, `${side.admin}-${round}-${direction.tier}`);
  for (let writer = 0; writer < settings.writers; writer++) {
    load.run(TENANT, side.tenantToken, 'write', settings.writePauseMs);
  }
  let job: { state: string; error?: string; result?: Record<string, number> } | undefined;
  let jobId = '';
  try {
    const deadline = performance.now() + 10000;
    while (!load.outcomes.some((outcome) => outcome.status === 201)) {
      if (performance.now() > deadline) throw new Error('no write was acknowledged before the move');
      await sleep(20);
    }
    await sleep(500);
    const requested = await send(side.base, 'PATCH', `/admin/v1/tenants/${TENANT}`, side.adminToken, {
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
    throw new Error(`move ${jobId} (${side.admin} admin) failed: ${job?.error}`);

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
    round,
    direction: direction.name,
    jobId,
    rowsCopied: result.rows_copied!,
    rowsResynced: result.rows_resynced!,
    pauseMs: result.pause_ms!,
    confirmMs: result.confirm_ms!,
    durationMs: result.duration_ms!,
    writes,
    rowsAfter: rows.total,
    missingAcknowledged: side.acknowledged.size - rows.present,
    unacknowledgedRows: rows.total - settings.rows - side.acknowledged.size,
  };
}

interface Summary {
  moves: number;
  pauseMedianMs: number;
  pauseMaxMs: number;
  confirmMedianMs: number;
  /** The pause less its confirmation wait: the drain, the re-sync and the switch, which the admin role does. */
  pauseWorkMedianMs: number;
  durationMedianMs: number;
  resyncedMedian: number;
  acknowledged: number;
  refusedMoving: number;
  refusedWithoutRetryAfter: number;
  other: number;
  missingAcknowledged: number;
}

function summarize(runs: MoveRun[]): Summary {
  return {
    moves: runs.length,
    pauseMedianMs: median(runs.map((run) => run.pauseMs)),
    pauseMaxMs: Math.max(...runs.map((run) => run.pauseMs)),
    confirmMedianMs: median(runs.map((run) => run.confirmMs)),
    pauseWorkMedianMs: median(runs.map((run) => run.pauseMs - run.confirmMs)),
    durationMedianMs: median(runs.map((run) => run.durationMs)),
    resyncedMedian: median(runs.map((run) => run.rowsResynced)),
    acknowledged: runs.reduce((sum, run) => sum + run.writes.acknowledged, 0),
    refusedMoving: runs.reduce((sum, run) => sum + run.writes.refusedMoving, 0),
    refusedWithoutRetryAfter: runs.reduce((sum, run) => sum + run.writes.refusedWithoutRetryAfter, 0),
    other: runs.reduce((sum, run) => sum + Object.values(run.writes.other).reduce((a, b) => a + b, 0), 0),
    missingAcknowledged: Math.max(0, ...runs.map((run) => run.missingAcknowledged)),
  };
}

function describe(run: MoveRun): string {
  const other = Object.entries(run.writes.other).map(([key, count]) => `${count}× ${key}`);
  return (
    `  ${run.direction.padEnd(12)} ${run.admin.padEnd(9)} pause ${run.pauseMs} ms (confirm ${run.confirmMs} ms), ` +
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

function report(admins: AdminName[], runs: MoveRun[]) {
  const groups: Array<{ admin: AdminName; direction: string; summary: Summary }> = [];
  for (const admin of admins) {
    const own = runs.filter((run) => run.admin === admin);
    for (const { name } of DIRECTIONS) {
      groups.push({
        admin,
        direction: name,
        summary: summarize(own.filter((run) => run.direction === name)),
      });
    }
    groups.push({ admin, direction: 'all', summary: summarize(own) });
  }
  log();
  log(
    table(
      [
        'admin',
        'direction',
        'moves',
        'pause med ms',
        'pause max ms',
        'confirm med ms',
        'pause-confirm med ms',
        'duration med s',
        're-synced med',
        'writes acked',
        '503 moving',
        'other',
        'missing',
      ],
      groups.map(({ admin, direction, summary }) => [
        admin,
        direction,
        String(summary.moves),
        fixed(summary.pauseMedianMs, 0),
        fixed(summary.pauseMaxMs, 0),
        fixed(summary.confirmMedianMs, 0),
        fixed(summary.pauseWorkMedianMs, 0),
        fixed(summary.durationMedianMs / 1000, 1),
        fixed(summary.resyncedMedian, 0),
        String(summary.acknowledged),
        String(summary.refusedMoving),
        String(summary.other),
        String(summary.missingAcknowledged),
      ]),
      [1],
    ),
  );
  const ratios: Record<string, number> = {};
  if (admins.length === 2) {
    log();
    for (const direction of [...DIRECTIONS.map((d) => d.name), 'all']) {
      const pick = (admin: AdminName) => groups.find((g) => g.admin === admin && g.direction === direction)!;
      const figure = (key: 'pauseMedianMs' | 'pauseWorkMedianMs' | 'durationMedianMs') =>
        managedRatio({ superuser: pick('superuser').summary[key], managed: pick('managed').summary[key] });
      ratios[`pause ${direction}`] = figure('pauseMedianMs');
      ratios[`pause less confirmation ${direction}`] = figure('pauseWorkMedianMs');
      ratios[`duration ${direction}`] = figure('durationMedianMs');
      const label = direction === 'all' ? 'all moves' : direction;
      log(
        `managed / superuser median pause, ${label.padEnd(12)} ${ratioText(figure('pauseMedianMs'))}; ` +
          `pause less confirmation ${fixed(figure('pauseWorkMedianMs'), 2)}, duration ${fixed(figure('durationMedianMs'), 2)}`,
      );
    }
  }
  const all = groups.filter((group) => group.direction === 'all').map((group) => group.summary);
  const targets = [
    ...(admins.length === 2
      ? [check('managed / superuser median pause', ratios['pause all']!, '<=', MANAGED_TARGET, 'all moves')]
      : []),
    check('acknowledged writes missing', Math.max(...all.map((s) => s.missingAcknowledged)), '==', 0),
    check(
      'answers but 2xx and 503 tenant_moving with Retry-After',
      all.reduce((sum, s) => sum + s.other + s.refusedWithoutRetryAfter, 0),
      '==',
      0,
    ),
  ];
  log();
  log(targetsTable(targets));
  return { groups, ratios, targets };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const values = parseFlags(
    process.argv.slice(2),
    {
      rows: { type: 'string' },
      repeat: { type: 'string' },
      writers: { type: 'string' },
      'write-pause-ms': { type: 'string' },
      'move-timeout-s': { type: 'string' },
      admin: { type: 'string', default: 'both' },
    },
    HELP,
  );
  if (!values) return;
  const settings: Settings = {
    rows: numberOption('rows', values.rows, 100_000),
    repeat: numberOption('repeat', values.repeat, 3),
    writers: numberOption('writers', values.writers, 4),
    writePauseMs: numberOption('write-pause-ms', values['write-pause-ms'], 10, { min: 0 }),
    moveTimeoutS: numberOption('move-timeout-s', values['move-timeout-s'], 180),
  };
  const admins = parseAdmins(values.admin);

  const measured = await withAdminPlanes(
    { admins, serverId: SERVER, maxConnections: 40, env: { RATE_LIMITS: 'off' } },
    async (planes) => {
      const sides: Side[] = [];
      for (const entry of planes) {
        log(`preparing the ${entry.admin} admin's plane: ${settings.rows} rows on ${SHARD} ...`);
        sides.push(await prepare(entry, settings.rows));
      }
      const done: MoveRun[] = [];
      for (let round = 0; round < settings.repeat; round++) {
        log(`round ${round + 1} of ${settings.repeat}`);
        for (const direction of DIRECTIONS) {
          for (const side of inRoundOrder(sides, round)) {
            try {
              const run = await moveOnce(side, round, direction, settings);
              done.push(run);
              log(describe(run));
            } catch (error) {
              // The tenant may be left mid-move: no more moves, but what was measured is reported.
              const attempts = await failedAttempts(side);
              log(
                `  ${direction.name.padEnd(12)} ${side.admin.padEnd(9)} FAILED: ${(error as Error).message}`,
              );
              for (const attempt of attempts) log(`    audited tenant.move_failed: ${attempt}`);
              return {
                done,
                failure: { admin: side.admin, round, direction: direction.name, error: `${error}`, attempts },
              };
            }
          }
        }
      }
      return { done, failure: undefined };
    },
  );
  const runs = measured.done;
  const { groups, ratios, targets } = report(admins, runs);
  if (runs.some((run) => run.missingAcknowledged > 0)) {
    log('acknowledged writes are missing after a move: see "missing" above');
    process.exitCode = 1;
  }
  if (measured.failure) {
    log(
      `a move failed (${measured.failure.admin} admin, round ${measured.failure.round + 1}, ${measured.failure.direction}); the run stopped there`,
    );
    process.exitCode = 1;
  }
  const files = resultFiles('moves', startedAt);
  await writeJson(files.json, {
    options: { ...settings, admins },
    loadAverage: os.loadavg(),
    targets,
    summary: groups,
    managedOverSuperuser: ratios,
    runs,
    failure: measured.failure,
  });
  log(`results: ${path.relative(PACKAGE_ROOT, files.json)}`);
}

await main();
// A move job that hung (see --move-timeout-s) would keep the process alive after everything is dropped.
process.exit();
