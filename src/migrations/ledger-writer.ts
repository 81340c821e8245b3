import type { Logger } from '../logging/logger.js';
import type { MigrationLedger, TargetOutcome } from './migration-ledger.js';

/** Where a target's progress goes: straight to the ledger, or batched by a LedgerWriter. */
export interface LedgerSink {
  started(databaseId: string): Promise<void>;
  finished(outcome: TargetOutcome): Promise<void>;
}

/** Writes each change at once: for a worker migrating one database of someone else's run. */
export function immediateLedgerSink(ledger: MigrationLedger, runId: string): LedgerSink {
  return {
    started: (databaseId) => ledger.markStarted(runId, [databaseId]),
    finished: (outcome) => ledger.recordOutcomes(runId, [outcome]),
  };
}

/**
 * Collects a run's ledger changes and writes them a batch at a time: two control-database writes per
 * database cost as much as the migration itself on a fleet of small databases. A crash loses at most the
 * last batch of ledger rows; each database's own migration record (which decides what a re-run does) is
 * committed with its migration and is never lost.
 */
export class LedgerWriter implements LedgerSink {
  #starts = new Set<string>();
  #outcomes = new Map<string, TargetOutcome>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ledger: MigrationLedger,
    private readonly runId: string,
    private readonly logger: Logger,
    /** Longest a change waits before it is written, in ms. */
    private readonly intervalMs = 250,
    /** Changes that trigger a write at once. */
    private readonly batchSize = 25,
  ) {}

  async started(databaseId: string): Promise<void> {
    this.#starts.add(databaseId);
    this.#schedule();
  }

  async finished(outcome: TargetOutcome): Promise<void> {
    // A finish supersedes a start not yet written.
    this.#starts.delete(outcome.databaseId);
    this.#outcomes.set(outcome.databaseId, outcome);
    this.#schedule();
  }

  #schedule(): void {
    // A failed background write is logged and its changes are queued again for the next one.
    if (this.#starts.size + this.#outcomes.size >= this.batchSize) {
      this.flush().catch(() => {});
      return;
    }
    this.#timer ??= setTimeout(() => this.flush().catch(() => {}), this.intervalMs);
  }

  /** Writes everything collected so far; resolves once it is in the ledger. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const starts = [...this.#starts];
    const outcomes = [...this.#outcomes.values()];
    this.#starts.clear();
    this.#outcomes.clear();
    // Writes stay in order, so a start never lands after its own outcome.
    const write = this.#flushing
      .catch(() => {})
      .then(async () => {
        try {
          await this.ledger.markStarted(this.runId, starts);
          await this.ledger.recordOutcomes(this.runId, outcomes);
        } catch (error) {
          this.logger.error({ err: error, run: this.runId }, 'could not write the migration ledger');
          for (const outcome of outcomes)
            if (!this.#outcomes.has(outcome.databaseId)) this.#outcomes.set(outcome.databaseId, outcome);
          for (const databaseId of starts) if (!this.#outcomes.has(databaseId)) this.#starts.add(databaseId);
          throw error;
        }
      });
    this.#flushing = write;
    return write;
  }
}
