/** Characters of the bar itself. */
const WIDTH = 24;

/**
 * Shows a long job's progress: on a terminal one line redrawn in place (a bar, a count and what it is
 * doing), elsewhere (a log, a pipe) a line each time the text changes. `done()` ends the line.
 */
export class ProgressBar {
  #last = '';
  #drawn = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  update(done: number, total: number, doing: string): void {
    const line = `${bar(done, total)} ${done}/${total} ${doing}`;
    if (line === this.#last) return;
    this.#last = line;
    if (this.out.isTTY) {
      this.out.write(`\r\u001b[2K${line.slice(0, Math.max(20, (this.out.columns ?? 80) - 1))}`);
      this.#drawn = true;
    } else {
      this.out.write(`  ${line}\n`);
    }
  }

  done(): void {
    if (this.#drawn) this.out.write('\n');
    this.#drawn = false;
  }
}

function bar(done: number, total: number): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * WIDTH) : WIDTH;
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
}
