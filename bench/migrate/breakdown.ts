/**
 * Where a fleet migration's time goes per database: wraps (in this process only, for the breakdown pass)
 * pg.Client's connect/query/end on the tenant databases, the catalog's admin URL lookup and the control
 * ledger's per-target writes, and sums the time of each kind of step per database.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import type { Tenantplane } from '../../src/tenantplane.js';
import type { CpuUse } from './machine.js';

export const STEP_ORDER = [
  'ledger.markStarted (control, batched)',
  'catalog.serverAdminUrl (control)',
  'connect',
  'advisory lock',
  'ensure ledger table',
  'umzug executed()',
  'BEGIN',
  'migration SQL',
  'BEGIN;SQL;ledger row;COMMIT (1 query)',
  'ledger row insert (tenant)',
  'COMMIT',
  'other query',
  'disconnect',
  'ledger.recordOutcomes (control, batched)',
] as const;
export type Step = (typeof STEP_ORDER)[number];

function stepOf(text: string): Step {
  const sql = text.trim();
  if (/pg_try_advisory_lock/i.test(sql)) return 'advisory lock';
  if (/^CREATE (SCHEMA|TABLE) IF NOT EXISTS/i.test(sql)) return 'ensure ledger table';
  if (/^SELECT name FROM/i.test(sql)) return 'umzug executed()';
  if (/^BEGIN$/i.test(sql)) return 'BEGIN';
  if (/^BEGIN;/i.test(sql) && /COMMIT;?$/i.test(sql)) return 'BEGIN;SQL;ledger row;COMMIT (1 query)';
  if (/^(COMMIT|ROLLBACK)$/i.test(sql)) return 'COMMIT';
  if (/^(INSERT INTO|DELETE FROM) "tenantplane"/i.test(sql)) return 'ledger row insert (tenant)';
  if (/ALTER TABLE deployments/i.test(sql)) return 'migration SQL';
  return 'other query';
}

interface Tally {
  ms: number;
  count: number;
}

type QueryFn = (...args: unknown[]) => unknown;

/** The delay monitor's timer interval; subtracted, since every sample includes it. */
const LOOP_RESOLUTION_MS = 5;

/** Collects step times per tenant database while installed. */
export class Probe {
  /** database name -> step -> time and calls */
  readonly byDatabase = new Map<string, Map<Step, Tally>>();
  readonly #names: Map<string, string>;
  readonly #restore: Array<() => void> = [];
  readonly #loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

  /** `names`: catalog database id -> database name, for every tenant database measured. */
  constructor(names: Map<string, string>) {
    this.#names = names;
  }

  add(database: string, step: Step, ms: number): void {
    let steps = this.byDatabase.get(database);
    if (!steps) {
      steps = new Map();
      this.byDatabase.set(database, steps);
    }
    const tally = steps.get(step) ?? { ms: 0, count: 0 };
    tally.ms += ms;
    tally.count += 1;
    steps.set(step, tally);
  }

  install(tp: Tenantplane | undefined): void {
    const tenantNames = new Set(this.#names.values());
    const timed = <T>(database: string, step: Step, promise: T): T => {
      const started = performance.now();
      if (promise && typeof (promise as { then?: unknown }).then === 'function') {
        const done = () => this.add(database, step, performance.now() - started);
        (promise as unknown as Promise<unknown>).then(done, done);
      }
      return promise;
    };

    const proto = pg.Client.prototype as unknown as Record<'connect' | 'query' | 'end', QueryFn>;
    for (const method of ['connect', 'query', 'end'] as const) {
      const original = proto[method];
      proto[method] = function (this: pg.Client, ...args: unknown[]) {
        const database = (this as unknown as { database?: string }).database ?? '';
        const result = original.apply(this, args);
        // Only promise-style calls on tenant databases (knex's callback-style control queries pass through).
        if (!tenantNames.has(database) || typeof args.at(-1) === 'function') return result;
        if (method === 'connect') return timed(database, 'connect', result);
        if (method === 'end') return timed(database, 'disconnect', result);
        const first = args[0];
        const text =
          typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
        return timed(database, stepOf(text), result);
      };
      this.#restore.push(() => {
        proto[method] = original;
      });
    }

    if (tp) {
      const catalog = tp.catalog;
      const adminUrl = catalog.serverAdminUrl;
      catalog.serverAdminUrl = (serverId: string, database?: string) =>
        timed(database ?? '', 'catalog.serverAdminUrl (control)', adminUrl.call(catalog, serverId, database));
      this.#restore.push(() => {
        catalog.serverAdminUrl = adminUrl;
      });
      // Ledger writes are batched per run, so they are timed per batch, not per database.
      const ledger = tp.ledger;
      const { markStarted, recordOutcomes } = ledger;
      ledger.markStarted = (runId, databaseIds) =>
        timed(
          '(batch)',
          'ledger.markStarted (control, batched)',
          markStarted.call(ledger, runId, databaseIds),
        );
      ledger.recordOutcomes = (runId, outcomes) =>
        timed(
          '(batch)',
          'ledger.recordOutcomes (control, batched)',
          recordOutcomes.call(ledger, runId, outcomes),
        );
      this.#restore.push(() => {
        ledger.markStarted = markStarted;
        ledger.recordOutcomes = recordOutcomes;
      });
    }
    this.#loopDelay.enable();
  }

  uninstall(): void {
    this.#loopDelay.disable();
    for (const restore of this.#restore.splice(0).reverse()) restore();
  }

  /** Event-loop delay beyond the timer interval while installed, in ms (a busy loop delays every target). */
  loopDelay(): { meanMs: number; p99Ms: number; maxMs: number } {
    const h = this.#loopDelay;
    return {
      meanMs: Number.isNaN(h.mean) ? 0 : Math.max(0, h.mean / 1e6 - LOOP_RESOLUTION_MS),
      p99Ms: Math.max(0, h.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
      maxMs: Math.max(0, h.max / 1e6 - LOOP_RESOLUTION_MS),
    };
  }

  /** Mean time and calls per database for each step. */
  perDatabase(): Record<string, { meanMs: number; callsPerDatabase: number }> {
    const databases = this.byDatabase.size || 1;
    const out: Record<string, { meanMs: number; callsPerDatabase: number }> = {};
    for (const step of STEP_ORDER) {
      let ms = 0;
      let count = 0;
      for (const steps of this.byDatabase.values()) {
        const tally = steps.get(step);
        if (tally) {
          ms += tally.ms;
          count += tally.count;
        }
      }
      if (count > 0) out[step] = { meanMs: ms / databases, callsPerDatabase: count / databases };
    }
    return out;
  }

  /** Mean over databases of the summed step times. */
  meanMeasuredMs(): number {
    let total = 0;
    for (const steps of this.byDatabase.values()) for (const tally of steps.values()) total += tally.ms;
    return total / (this.byDatabase.size || 1);
  }
}

export interface BreakdownPass {
  variant: string;
  concurrency: number;
  /** Whole fleet, as timed in the rounds. */
  wallMs: number;
  /** Runner only: loading the migration files (tp.fleetRunner()). */
  loadMs?: number;
  /** Runner only: run() start to the first database starting (catalog reads, ledger run + target rows). */
  setupMs?: number;
  /** Runner only: the last database done to run() returning (finishing the ledger run). */
  finishMs?: number;
  /** Mean per database, from its start to its end (runner: target-start to target-done events). */
  perDatabaseWallMs: number;
  /** Mean per database of the probed steps. */
  steps: Record<string, { meanMs: number; callsPerDatabase: number }>;
  /** perDatabaseWallMs minus the probed steps: JavaScript between steps, umzug, knex, file reads, waits. */
  unaccountedMs: number;
  loopDelay: { meanMs: number; p99Ms: number; maxMs: number };
  cpu: CpuUse;
}
