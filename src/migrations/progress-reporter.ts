import type { FleetEvent } from './fleet-runner.js';

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

/**
 * Shows a fleet run's progress: a live bar on a terminal (done, failed, running, total, rate, ETA), one
 * plain line per finished database otherwise. With --json it stays silent; the result goes to stdout.
 */
export class ProgressReporter {
  #total = 0;
  #done = 0;
  #failed = 0;
  #running = 0;
  #started = Date.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly mode: 'tty' | 'plain' | 'silent',
  ) {}

  static for(stream: NodeJS.WriteStream, json: boolean): ProgressReporter {
    return new ProgressReporter(stream, json ? 'silent' : stream.isTTY ? 'tty' : 'plain');
  }

  handle = (event: FleetEvent): void => {
    switch (event.type) {
      case 'start':
        this.#total = event.total;
        this.#started = Date.now();
        if (this.mode === 'plain') {
          this.stream.write(
            `migrating ${event.total} database(s), concurrency ${event.concurrency}${event.canary ? `, ${event.canary} canary` : ''}\n`,
          );
        }
        if (this.mode === 'tty') this.#timer = setInterval(() => this.#draw(), 200);
        break;
      case 'target-start':
        this.#running += 1;
        break;
      case 'target-done': {
        this.#running -= 1;
        this.#done += 1;
        if (event.result.status === 'failed') this.#failed += 1;
        const { result } = event;
        const detail =
          result.status === 'failed'
            ? `FAILED: ${result.error}`
            : result.applied.length > 0
              ? `${result.applied.join(', ')}`
              : result.planned.length > 0
                ? `would run ${result.planned.join(', ')}`
                : 'up to date';
        const line = `[${this.#done}/${this.#total}] ${result.databaseId} ${result.status} (${Math.round(result.durationMs)} ms) ${detail}`;
        if (this.mode === 'plain') this.stream.write(`${line}\n`);
        if (this.mode === 'tty' && result.status === 'failed') this.#print(line);
        break;
      }
      case 'canary-failed':
        if (this.mode !== 'silent')
          this.#print(`canary failed on ${event.failed.join(', ')}: the rest of the run is skipped`);
        break;
    }
  };

  #print(line: string): void {
    if (this.mode === 'tty') this.stream.write(`\r\x1b[2K${line}\n`);
    else this.stream.write(`${line}\n`);
    if (this.mode === 'tty') this.#draw();
  }

  #draw(): void {
    const elapsed = (Date.now() - this.#started) / 1000;
    const rate = elapsed > 0 ? this.#done / elapsed : 0;
    const eta = rate > 0 ? (this.#total - this.#done) / rate : Number.POSITIVE_INFINITY;
    const width = 30;
    const filled = this.#total > 0 ? Math.round((this.#done / this.#total) * width) : 0;
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    this.stream.write(
      `\r\x1b[2K[${bar}] ${this.#done}/${this.#total} done, ${this.#failed} failed, ${this.#running} running, ${rate.toFixed(1)}/s, ETA ${formatDuration(eta)}`,
    );
  }

  finish(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.mode === 'tty') {
      this.#draw();
      this.stream.write('\n');
    }
  }
}
