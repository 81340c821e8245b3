/** bench:moves' report: the table per size, direction, cutover and admin, the ratios, the targets. */
import { type AdminName, MANAGED_TARGET } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { check, fixed, type TargetCheck, table, targetsTable } from '../lib/tables.js';
import type { MoveRun } from './move.js';
import type { CutoverName } from './side.js';
import { groupRuns, type Ratio, ratios } from './summary.js';

/** The capture cutover's median pause, below this at every size (ms): the pause no longer grows with the tenant. */
export const CAPTURE_PAUSE_TARGET_MS = 500;

export interface Dimensions {
  admins: AdminName[];
  cutovers: CutoverName[];
  sizes: number[];
}

const rowsText = (rows: number) => rows.toLocaleString('en-US');

function ratioLine(ratio: Ratio): string {
  return (
    `${ratio.of} (${ratio.within}), ${rowsText(ratio.rows)} rows, ${ratio.direction.padEnd(12)} ` +
    `pause ${fixed(ratio.pause, 2)}, pause less confirmation ${fixed(ratio.pauseLessConfirmation, 2)}, ` +
    `duration ${fixed(ratio.duration, 2)}`
  );
}

/** Prints the table, the ratios and the targets; answers them for the results file. */
export function report(dimensions: Dimensions, runs: MoveRun[]) {
  const groups = groupRuns(runs, dimensions);
  log();
  log(
    table(
      [
        'rows',
        'direction',
        'cutover',
        'admin',
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
      groups.map(({ admin, cutover, rows, direction, summary }) => [
        rowsText(rows),
        direction,
        summary.fellBackToCompare > 0 ? `${cutover} (${summary.fellBackToCompare} compared)` : cutover,
        admin,
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
      [1, 2, 3],
    ),
  );
  const found = ratios(groups, dimensions);
  if (found.length > 0) {
    log();
    for (const ratio of found) log(ratioLine(ratio));
  }

  const all = groups.filter((group) => group.direction === 'all');
  const targets: TargetCheck[] = [];
  for (const group of all.filter((g) => g.cutover === 'capture')) {
    targets.push(
      check(
        `capture median pause, ms (${group.admin})`,
        group.summary.pauseMedianMs,
        '<',
        CAPTURE_PAUSE_TARGET_MS,
        `${rowsText(group.rows)} rows`,
      ),
    );
  }
  for (const ratio of found.filter((r) => r.of === 'managed / superuser' && r.direction === 'all')) {
    targets.push(
      check(
        'managed / superuser median pause',
        ratio.pause,
        '<=',
        MANAGED_TARGET,
        `${ratio.within}, ${rowsText(ratio.rows)} rows`,
      ),
    );
  }
  if (dimensions.cutovers.includes('capture')) {
    targets.push(
      check(
        'capture moves that compared instead',
        all.reduce((total, g) => total + g.summary.fellBackToCompare, 0),
        '==',
        0,
      ),
    );
  }
  targets.push(
    check('acknowledged writes missing', Math.max(...all.map((g) => g.summary.missingAcknowledged)), '==', 0),
    check(
      'answers but 2xx and 503 tenant_moving with Retry-After',
      all.reduce((total, g) => total + g.summary.other + g.summary.refusedWithoutRetryAfter, 0),
      '==',
      0,
    ),
  );
  log();
  log(targetsTable(targets));
  // The capture / compare pause ratio per size: what the issue asks about, last on the screen.
  const perSize = found.filter((r) => r.of === 'capture / compare' && r.direction === 'all');
  if (perSize.length > 0) {
    log();
    for (const ratio of perSize) {
      log(
        `capture / compare median pause (${ratio.within}), ${rowsText(ratio.rows)} rows: ${fixed(ratio.pause, 3)}`,
      );
    }
  }
  return { groups, ratios: found, targets };
}
