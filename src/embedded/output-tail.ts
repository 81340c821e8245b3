/** How many output lines a startup error quotes. */
const TAIL_LINES = 25;

/** Forwards output lines to the caller's log and keeps the last few for error messages. */
export class OutputTail {
  private lines: string[] = [];

  constructor(private readonly log: ((line: string) => void) | undefined) {}

  push(message: string): void {
    for (const raw of message.split(/\r?\n/)) {
      const line = raw.trimEnd();
      if (!line) continue;
      this.lines.push(line);
      if (this.lines.length > TAIL_LINES) this.lines.shift();
      this.log?.(line);
    }
  }

  reset(): void {
    this.lines = [];
  }

  includes(text: string): boolean {
    return this.lines.some((line) => line.includes(text));
  }

  describe(): string {
    return this.lines.length ? `\nLast PostgreSQL output:\n  ${this.lines.join('\n  ')}` : '';
  }
}
