import type { TargetCheck } from '../lib/tables.js';
import type { BenchPlane } from './fixtures.js';
import type { BenchOptions } from './options.js';
import type { CaseSummary } from './report.js';

/** What a run of bench:router has found so far: each part adds to it, the end prints and writes it. */
export interface RouterResults {
  /** The JSON record: options, environment, setup, and each part's own figures. */
  report: Record<string, unknown>;
  cases: CaseSummary[];
  targets: TargetCheck[];
  /** Failures of the bench itself: the run exits 1. */
  failures: string[];
}

/** What each part of a bench:router run works with. */
export interface RouterRun {
  options: BenchOptions;
  plane: BenchPlane;
  /** The environment of every tenantplane service child. */
  tenantplaneEnv: Record<string, string>;
  /** bench/results/router-<time>: the services' logs are named after it. */
  filePrefix: string;
  /** Where the services' V8 CPU profiles go (`--profile`); undefined: none. */
  profileDir: string | undefined;
  results: RouterResults;
}

/** The part of a service's spec that asks for a CPU profile, when the run wants them. */
export function profiling(run: RouterRun): { cpuProfileDir?: string } {
  return run.profileDir ? { cpuProfileDir: run.profileDir } : {};
}

/** The summaries' errors and non-2xx responses as failures of the bench. */
export function failOnErrors(run: RouterRun, summaries: CaseSummary[]): void {
  for (const summary of summaries) {
    if (summary.errors + summary.non2xx > 0) {
      run.results.failures.push(
        `${summary.name}: ${summary.errors} errors and ${summary.non2xx} non-2xx responses`,
      );
    }
  }
}
