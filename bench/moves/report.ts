/** bench:moves' figures: medians per admin and direction, the managed/superuser ratios, the targets. */
import { type AdminName, MANAGED_TARGET, managedRatio, ratioText } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { median } from '../lib/stats.js';
import { check, fixed, table, targetsTable } from '../lib/tables.js';
import type { MoveRun } from './move.js';
import { DIRECTIONS } from './side.js';

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

/** The table per admin and direction, the ratios when both admins ran, and the targets. */
export function report(admins: AdminName[], runs: MoveRun[]) {
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
