/** bench:moves' figures per group of moves (admin, cutover, tenant size, direction), and the ratios between groups. */
import type { AdminName } from '../lib/admin-planes.js';
import { median } from '../lib/stats.js';
import type { MoveRun } from './move.js';
import { type CutoverName, DIRECTIONS } from './side.js';

export interface Summary {
  moves: number;
  pauseMedianMs: number;
  pauseMaxMs: number;
  confirmMedianMs: number;
  /** The pause less its confirmation wait: the drain, the re-sync and the switch, which the mover does. */
  pauseWorkMedianMs: number;
  durationMedianMs: number;
  resyncedMedian: number;
  /** Moves of a capture plane whose pause compared the whole tenant after all (the role may not create triggers). */
  fellBackToCompare: number;
  acknowledged: number;
  refusedMoving: number;
  refusedWithoutRetryAfter: number;
  other: number;
  missingAcknowledged: number;
}

export interface Group {
  admin: AdminName;
  cutover: CutoverName;
  rows: number;
  /** A direction's name, or `all` for both. */
  direction: string;
  summary: Summary;
}

export const ALL_DIRECTIONS = [...DIRECTIONS.map((direction) => direction.name), 'all'];

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

export function summarize(runs: MoveRun[]): Summary {
  return {
    moves: runs.length,
    pauseMedianMs: median(runs.map((run) => run.pauseMs)),
    pauseMaxMs: runs.length === 0 ? Number.NaN : Math.max(...runs.map((run) => run.pauseMs)),
    confirmMedianMs: median(runs.map((run) => run.confirmMs)),
    pauseWorkMedianMs: median(runs.map((run) => run.pauseMs - run.confirmMs)),
    durationMedianMs: median(runs.map((run) => run.durationMs)),
    resyncedMedian: median(runs.map((run) => run.rowsResynced)),
    fellBackToCompare: runs.filter((run) => run.cutover === 'capture' && run.cutoverUsed !== 'captured')
      .length,
    acknowledged: sum(runs.map((run) => run.writes.acknowledged)),
    refusedMoving: sum(runs.map((run) => run.writes.refusedMoving)),
    refusedWithoutRetryAfter: sum(runs.map((run) => run.writes.refusedWithoutRetryAfter)),
    other: sum(runs.map((run) => sum(Object.values(run.writes.other)))),
    missingAcknowledged: Math.max(0, ...runs.map((run) => run.missingAcknowledged)),
  };
}

/** A group per tenant size, direction (and all moves), cutover and admin that ran, in that order. */
export function groupRuns(
  runs: MoveRun[],
  dimensions: { admins: AdminName[]; cutovers: CutoverName[]; sizes: number[] },
): Group[] {
  const groups: Group[] = [];
  for (const rows of dimensions.sizes) {
    for (const direction of ALL_DIRECTIONS) {
      for (const cutover of dimensions.cutovers) {
        for (const admin of dimensions.admins) {
          const own = runs.filter(
            (run) =>
              run.rows === rows &&
              run.cutover === cutover &&
              run.admin === admin &&
              (direction === 'all' || run.direction === direction),
          );
          groups.push({ admin, cutover, rows, direction, summary: summarize(own) });
        }
      }
    }
  }
  return groups;
}

export interface Ratio {
  /** `capture / compare` (same admin) or `managed / superuser` (same cutover). */
  of: string;
  /** The admin (of capture / compare) or the cutover (of managed / superuser) both sides share. */
  within: string;
  rows: number;
  direction: string;
  pause: number;
  pauseLessConfirmation: number;
  duration: number;
}

type Key = Pick<Group, 'admin' | 'cutover' | 'rows' | 'direction'>;

/** The figures of group `a` over those of group `b`; NaN where either did not run. */
export function ratioOf(groups: Group[], a: Key, b: Key): Omit<Ratio, 'of' | 'within'> {
  const find = (key: Key) =>
    groups.find(
      (group) =>
        group.admin === key.admin &&
        group.cutover === key.cutover &&
        group.rows === key.rows &&
        group.direction === key.direction,
    )?.summary;
  const [top, bottom] = [find(a), find(b)];
  const figure = (field: 'pauseMedianMs' | 'pauseWorkMedianMs' | 'durationMedianMs') =>
    top && bottom ? top[field] / bottom[field] : Number.NaN;
  return {
    rows: a.rows,
    direction: a.direction,
    pause: figure('pauseMedianMs'),
    pauseLessConfirmation: figure('pauseWorkMedianMs'),
    duration: figure('durationMedianMs'),
  };
}

/** capture / compare per admin, size and direction; managed / superuser per cutover, size and direction. */
export function ratios(
  groups: Group[],
  dimensions: { admins: AdminName[]; cutovers: CutoverName[]; sizes: number[] },
): Ratio[] {
  const found: Ratio[] = [];
  for (const rows of dimensions.sizes) {
    for (const direction of ALL_DIRECTIONS) {
      if (dimensions.cutovers.length === 2) {
        for (const admin of dimensions.admins) {
          found.push({
            of: 'capture / compare',
            within: admin,
            ...ratioOf(
              groups,
              { admin, cutover: 'capture', rows, direction },
              { admin, cutover: 'compare', rows, direction },
            ),
          });
        }
      }
      if (dimensions.admins.length === 2) {
        for (const cutover of dimensions.cutovers) {
          found.push({
            of: 'managed / superuser',
            within: cutover,
            ...ratioOf(
              groups,
              { admin: 'managed', cutover, rows, direction },
              { admin: 'superuser', cutover, rows, direction },
            ),
          });
        }
      }
    }
  }
  return found;
}
