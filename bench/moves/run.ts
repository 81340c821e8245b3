/**
 * `npm run bench:moves`: the move pause. Tenants of --rows rows each move from their shard to a dedicated
 * database and back, --repeat times, while writes run through the HTTP API of the plane's service; under the
 * superuser admin, a managed-PostgreSQL-style admin or both (--admin), with the pause finding the changes by
 * capture, by comparing the whole tenant, or both (--cutover): a plane per admin and cutover, interleaved.
 * After each move every write the API acknowledged must be in the tenant's new database. See README.md.
 */
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { ADMIN_HELP, inRoundOrder, parseAdmins, withAdminPlanes } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { listOption, numberOption, parseFlags } from '../lib/options.js';
import { resultFiles, writeJson } from '../lib/results.js';
import { describe, type MoveRun, moveOnce, type Settings } from './move.js';
import { report } from './report.js';
import {
  CUTOVER_HELP,
  cutoverVariants,
  DIRECTIONS,
  failedAttempts,
  parseCutovers,
  prepare,
  SERVER,
  SHARD,
  type Side,
} from './side.js';

const HELP = `npm run bench:moves -- [flags]

  --rows N[,N...]    rows of each moving tenant, a tenant per size: 3/4 deployments, 1/4 workflows
                     (default 100000)
  --repeat N         rounds, each a move to a dedicated database and one back to the shard (default 3)
  --writers N        concurrent write loops (POST /api/v1/deployments) during each move (default 4)
  --write-pause-ms N pause between one loop's requests, in ms (default 10)
  --move-timeout-s N a move not done by then fails the run (default 60 per 100,000 rows, at least 180)
${ADMIN_HELP}
${CUTOVER_HELP}
  --help
`;

function parseSizes(raw: string | undefined): number[] {
  const parts = listOption(raw ?? '100000');
  if (parts.length === 0) throw new Error('--rows needs at least one size');
  return [...new Set(parts.map((part) => numberOption('rows', part, 0)))];
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const values = parseFlags(
    process.argv.slice(2),
    {
      rows: { type: 'string' },
      repeat: { type: 'string' },
      writers: { type: 'string' },
      'write-pause-ms': { type: 'string' },
      'move-timeout-s': { type: 'string' },
      admin: { type: 'string', default: 'both' },
      cutover: { type: 'string', default: 'capture' },
    },
    HELP,
  );
  if (!values) return;
  const sizes = parseSizes(values.rows);
  const settings: Settings = {
    sizes,
    repeat: numberOption('repeat', values.repeat, 3),
    writers: numberOption('writers', values.writers, 4),
    writePauseMs: numberOption('write-pause-ms', values['write-pause-ms'], 10, { min: 0 }),
    moveTimeoutS: numberOption(
      'move-timeout-s',
      values['move-timeout-s'],
      Math.max(180, Math.ceil(Math.max(...sizes) / 100_000) * 60),
    ),
  };
  const admins = parseAdmins(values.admin);
  const cutovers = parseCutovers(values.cutover);

  const measured = await withAdminPlanes(
    {
      admins,
      serverId: SERVER,
      maxConnections: 40,
      env: { RATE_LIMITS: 'off' },
      variants: cutoverVariants(cutovers),
    },
    async (planes) => {
      const sides: Side[] = [];
      for (const entry of planes) {
        log(
          `preparing the ${entry.admin} admin's ${entry.variant} plane: ${sizes.join(', ')} rows on ${SHARD} ...`,
        );
        const started = performance.now();
        sides.push(...(await prepare(entry, sizes)));
        log(`  seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
      const done: MoveRun[] = [];
      for (let round = 0; round < settings.repeat; round++) {
        log(`round ${round + 1} of ${settings.repeat}`);
        for (const rows of sizes) {
          for (const direction of DIRECTIONS) {
            for (const side of inRoundOrder(
              sides.filter((candidate) => candidate.rows === rows),
              round,
            )) {
              try {
                const run = await moveOnce(side, round, direction, settings);
                done.push(run);
                log(describe(run));
              } catch (error) {
                // The tenant may be left mid-move: no more moves, but what was measured is reported.
                const attempts = await failedAttempts(side);
                log(
                  `  ${String(rows).padStart(8)} ${direction.name.padEnd(12)} ${side.admin.padEnd(9)} ${side.cutover} FAILED: ${(error as Error).message}`,
                );
                for (const attempt of attempts) log(`    audited tenant.move_failed: ${attempt}`);
                const { admin, cutover } = side;
                const failure = { admin, cutover, rows, round, direction: direction.name, error: `${error}` };
                return { done, failure: { ...failure, attempts } };
              }
            }
          }
        }
      }
      return { done, failure: undefined };
    },
  );
  const runs = measured.done;
  const { groups, ratios, targets } = report({ admins, cutovers, sizes }, runs);
  if (runs.some((run) => run.missingAcknowledged > 0)) {
    log('acknowledged writes are missing after a move: see "missing" above');
    process.exitCode = 1;
  }
  const failure = measured.failure;
  if (failure) {
    log(
      `a move failed (${failure.admin} admin, ${failure.cutover}, ${failure.rows} rows, round ${failure.round + 1}, ${failure.direction}); the run stopped there`,
    );
    process.exitCode = 1;
  }
  const files = resultFiles('moves', startedAt);
  await writeJson(files.json, {
    options: { ...settings, admins, cutovers },
    machine: { cpus: os.cpus().length, loadAverageAtStart, loadAverageAtEnd: os.loadavg() },
    targets,
    summary: groups,
    ratios,
    runs,
    failure,
  });
  log(`results: ${path.relative(PACKAGE_ROOT, files.json)}`);
}

await main();
// A move job that hung (see --move-timeout-s) would keep the process alive after everything is dropped.
process.exit();
