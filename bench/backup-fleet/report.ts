/** bench:backup-fleet's table: the round against the baseline, and each server's connections against its budget. */
import { log } from '../lib/log.js';
import { check, fixed, table, targetsTable } from '../lib/tables.js';
import type { Fleet } from './fleet.js';
import type { ScheduledResult, SequentialResult } from './rounds.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function report(fleet: Fleet, sequential: SequentialResult, round: ScheduledResult) {
  const ratio = round.wallMs / sequential.wallMs;
  log();
  log(
    table(
      ['', 'backups', 'wall', 'backups/s', 'failed', 'two at once', 'next slot too'],
      [
        [
          'one after another (baseline)',
          String(sequential.backups),
          seconds(sequential.wallMs),
          fixed((sequential.backups * 1000) / sequential.wallMs, 1),
          '0',
          '-',
          '-',
        ],
        [
          'scheduled round',
          String(round.backups),
          seconds(round.wallMs),
          fixed((round.backups * 1000) / round.wallMs, 1),
          String(round.failed),
          String(round.overlapping),
          String(round.nextSlot),
        ],
      ],
    ),
  );
  log(
    '(the round: each tenant\'s first scheduled backup; "next slot too": tenants whose next daily slot came within the round, backed up again after the first)',
  );
  log(
    `round / baseline wall time: ${fixed(ratio, 2)}; median backup one after another ${fixed(sequential.medianBackupMs, 0)} ms`,
  );
  log();
  log(
    table(
      [
        'server',
        'tenants',
        'budget (max_connections)',
        'scheduled at once: cap',
        'most at once',
        'peak connections, round',
        'peak, baseline',
      ],
      fleet.servers.map((server) => {
        const figures = round.perServer[server.id]!;
        return [
          server.id,
          String(figures.backups),
          String(server.maxConnections),
          String(figures.cap),
          String(figures.mostAtOnce),
          String(round.connections.peaks[server.role] ?? 0),
          String(sequential.connections.peaks[server.role] ?? 0),
        ];
      }),
    ),
  );
  log(
    `connections sampled from pg_stat_activity by each server's admin role: ${round.connections.samples} samples in the round, ${sequential.connections.samples} in the baseline`,
  );
  const targets = [
    check('every tenant backed up by the round', round.backups, '==', fleet.tenants.length),
    check('tenants with two backups at once', round.overlapping, '==', 0),
    ...fleet.servers.flatMap((server) => {
      const figures = round.perServer[server.id]!;
      return [
        check(`${server.id}: scheduled backups at once`, figures.mostAtOnce, '<=', figures.cap),
        check(
          `${server.id}: peak connections`,
          round.connections.peaks[server.role] ?? 0,
          '<=',
          server.maxConnections,
          'the whole budget of the server',
        ),
      ];
    }),
  ];
  log();
  log(targetsTable(targets));
  return { ratio, targets };
}
