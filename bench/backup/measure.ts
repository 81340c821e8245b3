/**
 * bench:backup's measurements: per size, the tenant filled under each admin, its export, then rounds of
 * each admin's backup and pg_dump, each admin's restore and pg_restore; the best of each kept.
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { dedicatedDatabaseName } from '../../src/ids.js';
import { adminQuery, adminUrlFor, TEST_ACTOR } from '../../test/support/test-plane.js';
import { type AdminName, type AdminPlane, inRoundOrder, managedRatio } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { pairedRatios } from '../lib/stats.js';
import { binary, type Operation, operation, timed } from './children.js';
import { fill } from './fill.js';

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;

export interface Side extends AdminPlane {
  /** The environment of its operation.ts children: its plane's catalog and data folder. */
  env: NodeJS.ProcessEnv;
}

/** One admin's runs at one size: its tenant's database, the export, and each round's backup and restore. */
interface AdminRuns {
  database: string;
  filled: { rows: number; bytes: number };
  exported: Operation;
  backups: Operation[];
  restores: Operation[];
}

export interface Settings {
  sizeMb: number;
  smallMb: number;
  repeat: number;
  compress: boolean;
}

export const STEPS = ['export', 'backup', 'restore'] as const;
export type Step = (typeof STEPS)[number];

/** One admin's figures at one size: the best of the rounds, and every round's times. */
export interface AdminFigures {
  databaseBytes: number;
  rows: number;
  exportMs: number;
  exportRssMb: number;
  backupMs: number;
  backupRunsMs: number[];
  backupRssMb: number;
  backupBytes: number;
  restoreMs: number;
  restoreRunsMs: number[];
  restoreRssMb: number;
  /** The best restore's phases, in ms since it began: paused, loaded (the last table), resuming, done. */
  restorePhasesMs: Record<string, number>;
  backupRatio: number;
  restoreRatio: number;
}

export interface SizeResult {
  sizeMb: number;
  pgDumpMs: number;
  pgDumpRunsMs: number[];
  pgDumpBytes: number;
  pgRestoreMs: number;
  pgRestoreRunsMs: number[];
  admins: Partial<Record<AdminName, AdminFigures>>;
  /** Best managed over best superuser per step (NaN unless both ran). */
  managedOverSuperuser: Record<Step, number>;
  /** The same per round: the two ran side by side. */
  managedOverSuperuserPerRound: { backup: number[]; restore: number[] };
}

const best = <T extends { ms: number }>(runs: T[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));

/** A restore's phases as operation.ts reports them (ms since it began), as the time each one took. */
function phasesText(phases: unknown): string {
  const at = phases as Record<string, number>;
  const span = (from: number | undefined, to: number | undefined) =>
    from === undefined || to === undefined ? '?' : `${((to - from) / 1000).toFixed(2)} s`;
  return `header and fence ${span(0, at.paused)}, load ${span(at.paused, at.loaded)}, indexes and commit ${span(at.loaded, at.resuming)}, resume ${span(at.resuming, at.done)}`;
}

function stepLine(step: string, admin: AdminName, text: string): void {
  log(`  ${step.padEnd(10)} ${admin.padEnd(9)} ${text}`);
}

async function checkpoint(): Promise<void> {
  await adminQuery('postgres', 'CHECKPOINT');
}

/** Both tenants, one size after the other, under each admin; returns the per-size results. */
export async function measure(sides: Side[], settings: Settings): Promise<Record<string, SizeResult>> {
  const { sizeMb, smallMb, repeat } = settings;
  // pg_dump and pg_restore, the baseline, read the first admin's copy of the tenant (as the superuser).
  const reference = sides[0]!;
  const dumpFile = path.join(reference.plane.dataDir, 'dump.pgc');
  const results: Record<string, SizeResult> = {};
  for (const { tenant, mb } of [
    { tenant: 'bench-small', mb: smallMb },
    { tenant: 'bench-big', mb: sizeMb },
  ]) {
    const runs = new Map<AdminName, AdminRuns>();
    for (const side of sides) {
      await side.plane.tp.tenants.create({ id: tenant, tier: 'enterprise' }, TEST_ACTOR);
      const database = dedicatedDatabaseName(side.plane.prefix, tenant);
      log(`filling ${tenant} (${side.admin} admin) to ~${mb} MB ...`);
      const filled = await fill(adminUrlFor(database), tenant, mb);
      log(`  ${filled.rows} rows, database ${mib(filled.bytes)}`);
      runs.set(side.admin, { database, filled, exported: undefined!, backups: [], restores: [] });
    }
    for (const side of sides) {
      await checkpoint();
      const exported = await operation(side.env, 'export', tenant);
      runs.get(side.admin)!.exported = exported;
      stepLine('export', side.admin, `${seconds(exported.ms)}, peak RSS ${exported.maxRssMb.toFixed(0)} MB`);
    }
    // Each round: every admin's backup then pg_dump, every admin's restore then pg_restore, the admins'
    // order alternating between rounds; the best of each is kept, which damps other load.
    const dumps: number[] = [];
    const pgRestores: number[] = [];
    let dumpBytes = 0;
    const referenceUrl = adminUrlFor(runs.get(reference.admin)!.database);
    for (let round = 0; round < repeat; round += 1) {
      const order = inRoundOrder(sides, round);
      for (const side of order) {
        await checkpoint();
        const backup = await operation(side.env, 'backup', tenant);
        runs.get(side.admin)!.backups.push(backup);
        stepLine(
          'backup',
          side.admin,
          `${seconds(backup.ms)}, peak RSS ${backup.maxRssMb.toFixed(0)} MB, ${mib(backup.bytes as number)} stored`,
        );
      }
      await checkpoint();
      const dumpMs = await timed(binary('pg_dump'), ['-Fc', '-f', dumpFile, '-d', referenceUrl]);
      dumps.push(dumpMs);
      dumpBytes = (await stat(dumpFile)).size;
      log(`  pg_dump    ${''.padEnd(9)} ${seconds(dumpMs)}, ${mib(dumpBytes)}`);
      for (const side of order) {
        const own = runs.get(side.admin)!;
        await checkpoint();
        const restore = await operation(side.env, 'restore', tenant, own.backups.at(-1)!.backupId as string);
        own.restores.push(restore);
        stepLine(
          'restore',
          side.admin,
          `${seconds(restore.ms)}, peak RSS ${restore.maxRssMb.toFixed(0)} MB, ${phasesText(restore.phases)}`,
        );
      }
      const scratch = `${reference.plane.prefix}_pgrestore`;
      await adminQuery('postgres', `CREATE DATABASE "${scratch}"`);
      await checkpoint();
      const pgRestoreMs = await timed(binary('pg_restore'), ['-d', adminUrlFor(scratch), dumpFile]);
      pgRestores.push(pgRestoreMs);
      log(`  pg_restore ${''.padEnd(9)} ${seconds(pgRestoreMs)}`);
      await adminQuery('postgres', `DROP DATABASE "${scratch}" WITH (FORCE)`);
      await rm(dumpFile, { force: true });
    }
    const pgDumpMs = Math.min(...dumps);
    const pgRestoreMs = Math.min(...pgRestores);
    const admins: SizeResult['admins'] = {};
    const bestMs: Record<Step, Partial<Record<AdminName, number>>> = { export: {}, backup: {}, restore: {} };
    for (const [admin, own] of runs) {
      const backup = best(own.backups);
      const restore = best(own.restores);
      bestMs.export[admin] = own.exported.ms;
      bestMs.backup[admin] = backup.ms;
      bestMs.restore[admin] = restore.ms;
      admins[admin] = {
        databaseBytes: own.filled.bytes,
        rows: own.filled.rows,
        exportMs: own.exported.ms,
        exportRssMb: own.exported.maxRssMb,
        backupMs: backup.ms,
        backupRunsMs: own.backups.map((run) => run.ms),
        backupRssMb: Math.max(...own.backups.map((run) => run.maxRssMb)),
        backupBytes: backup.bytes as number,
        restoreMs: restore.ms,
        restoreRunsMs: own.restores.map((run) => run.ms),
        restoreRssMb: Math.max(...own.restores.map((run) => run.maxRssMb)),
        restorePhasesMs: restore.phases as Record<string, number>,
        backupRatio: backup.ms / pgDumpMs,
        restoreRatio: restore.ms / pgRestoreMs,
      };
    }
    // Each round's managed run over the superuser's of the same round (they ran side by side).
    const roundRatios = (step: 'backups' | 'restores') => {
      const times = (admin: AdminName) => runs.get(admin)?.[step].map((run) => run.ms) ?? [];
      return pairedRatios(times('managed'), times('superuser'));
    };
    results[tenant] = {
      sizeMb: mb,
      pgDumpMs,
      pgDumpRunsMs: dumps,
      pgDumpBytes: dumpBytes,
      pgRestoreMs,
      pgRestoreRunsMs: pgRestores,
      admins,
      managedOverSuperuser: Object.fromEntries(
        STEPS.map((step) => [step, managedRatio(bestMs[step])]),
      ) as Record<Step, number>,
      managedOverSuperuserPerRound: { backup: roundRatios('backups'), restore: roundRatios('restores') },
    };
    for (const side of sides) {
      // The small tenant is only for memory; drop it before filling the big one. Each size's backups go too.
      if (tenant === 'bench-small')
        await side.plane.tp.tenants.delete({ id: tenant, confirm: tenant }, TEST_ACTOR);
      await rm(path.join(side.plane.dataDir, 'backups'), { recursive: true, force: true });
    }
  }
  return results;
}
