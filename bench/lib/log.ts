/** A bench's progress lines: stdout (or stderr, while stdout carries the report), until cleanup silences them. */

let out: NodeJS.WritableStream = process.stdout;
let silenced = false;

export function log(line = ''): void {
  if (!silenced) out.write(`${line}\n`);
}

/** Always on stderr, and never silenced: what cleanup has to say. */
export function warn(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The progress lines go to `stream` from now on (stderr when stdout carries the report as JSON). */
export function logTo(stream: NodeJS.WritableStream): void {
  out = stream;
}

/** From now on log() writes nothing: once interrupted, only cleanup speaks (through warn). */
export function silenceLog(): void {
  silenced = true;
}
