import { type AdminName, MANAGED_TARGET } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { check, fixed, ratiosText, table, targetsTable } from '../lib/tables.js';
import { type SizeResult, STEPS, seconds } from './measure.js';

/** Backup and restore over pg_dump and pg_restore, at most. */
const TARGET_RATIO = 1.3;

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
        row('backup / pg_dump', (admin) => fixed(big.admins[admin]!.backupRatio, 2)),
        row('restore / pg_restore', (admin) => fixed(big.admins[admin]!.restoreRatio, 2)),
        ...peaks,
      ],
    ),
  );
  log(`pg_dump ${seconds(big.pgDumpMs)}, pg_restore ${seconds(big.pgRestoreMs)} (best, the baseline)`);
  const targets = admins.flatMap((admin) => [
    check(`backup / pg_dump, ${admin}`, big.admins[admin]!.backupRatio, '<=', TARGET_RATIO),
    check(`restore / pg_restore, ${admin}`, big.admins[admin]!.restoreRatio, '<=', TARGET_RATIO),
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
