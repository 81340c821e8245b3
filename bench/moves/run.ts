/**
 * `npm run bench:moves`: the tier-move pause. A tenant with --rows rows moves from its shard to a dedicated
 * database and back, --repeat times, while writes run through the HTTP API of the plane's service; under the
 * superuser admin, a managed-PostgreSQL-style admin, or both interleaved (--admin). After each move every
 * write the API acknowledged must be in the tenant's new database. See README.md.
 */
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { ADMIN_HELP, inRoundOrder, parseAdmins, withAdminPlanes } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { numberOption, parseFlags } from '../lib/options.js';
import { resultFiles, writeJson } from '../lib/results.js';
import { describe, type MoveRun, moveOnce, type Settings } from './move.js';
import { report } from './report.js';
import { DIRECTIONS, failedAttempts, prepare, SERVER, SHARD, type Side } from './side.js';

const HELP = `npm run bench:moves -- [flags]

  --rows N           rows of the moving tenant: 3/4 deployments, 1/4 workflows (default 100000)
  --repeat N         rounds, each a move to a dedicated database and one back to the shard (default 3)
  --writers N        concurrent write loops (POST /api/v1/deployments) during each move (default 4)
  --write-pause-ms N pause between one loop's requests, in ms (default 10)
  --move-timeout-s N a move not done by then fails the run (default 180)
${ADMIN_HELP}
  --help
`;

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
