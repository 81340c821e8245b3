import { type AdminName, MANAGED_TARGET } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { check, fixed, ratiosText, table, targetsTable } from '../lib/tables.js';
import { type SizeResult, STEPS, seconds } from './measure.js';

/** Backup time over pg_dump's, at most. */
const BACKUP_TARGET = 1.3;
/** Restore time over pg_restore's, and a backup's stored bytes over pg_dump -Fc's, at most (issue 15). */
const RESTORE_TARGET = 1.0;
const STORED_TARGET = 1.0;

/** The table of every admin's figures, and the targets. */
export function report(admins: AdminName[], results: Record<string, SizeResult>) {
  const big = results['bench-big']!;
  const small = results['bench-small']!;
  const both = admins.length === 2;
  const row = (label: string, value: (admin: AdminName) => string, ratio?: number) => [
    label,
    ...admins.map(value),
    ...(both ? [ratio === undefined ? '' : fixed(ratio, 2)] : []),
  ];
  const timings = [
    ...STEPS.map((step) => ({ result: big, step })),
    ...(['backup', 'restore'] as const).map((step) => ({ result: small, step })),
  ].map(({ result, step }) =>
    row(
      `${step}, ${result.sizeMb} MB${step === 'export' ? '' : ', best'}`,
      (admin) => seconds(result.admins[admin]![`${step}Ms`]),
      result.managedOverSuperuser[step],
    ),
  );
  const peaks = (['backup', 'restore'] as const).map((step) =>
    row(
      `peak RSS ${step}, ${small.sizeMb} / ${big.sizeMb} MB`,
      (admin) =>
        `${small.admins[admin]![`${step}RssMb`].toFixed(0)} / ${big.admins[admin]![`${step}RssMb`].toFixed(0)} MB`,
    ),
  );
  log();
  log(
    table(
      ['', ...admins, ...(both ? ['managed/superuser'] : [])],
      [
        ...timings,
        ...[small, big].flatMap((result) => [
          row(`stored / pg_dump -Fc, ${result.sizeMb} MB`, (admin) =>
            fixed(result.admins[admin]!.backupBytes / result.pgDumpBytes, 2),
          ),
          row(`backup / pg_dump, ${result.sizeMb} MB`, (admin) =>
            fixed(result.admins[admin]!.backupRatio, 2),
          ),
          row(`restore / pg_restore, ${result.sizeMb} MB`, (admin) =>
            fixed(result.admins[admin]!.restoreRatio, 2),
          ),
        ]),
        ...peaks,
      ],
    ),
  );
  for (const result of [small, big]) {
    log(
      `${result.sizeMb} MB: pg_dump ${seconds(result.pgDumpMs)} and ${(result.pgDumpBytes / 1048576).toFixed(1)} MB, pg_restore ${seconds(result.pgRestoreMs)} (best, the baseline)`,
    );
  }
  const targets = admins.flatMap((admin) => [
    check(`backup / pg_dump, ${admin}`, big.admins[admin]!.backupRatio, '<=', BACKUP_TARGET),
    check(`restore / pg_restore, ${admin}`, big.admins[admin]!.restoreRatio, '<=', RESTORE_TARGET),
    check(
      `stored / pg_dump -Fc, ${admin}`,
      big.admins[admin]!.backupBytes / big.pgDumpBytes,
      '<=',
      STORED_TARGET,
    ),
  ]);
  if (both) {
    for (const step of ['backup', 'restore'] as const) {
      const rounds = big.managedOverSuperuserPerRound[step];
      targets.push(
        check(
          `managed / superuser ${step}`,
          big.managedOverSuperuser[step],
          '<=',
          MANAGED_TARGET,
          `rounds: ${ratiosText(rounds)}`,
        ),
      );
    }
  }
  log();
  log(targetsTable(targets));
  return targets;
}
