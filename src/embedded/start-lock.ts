/** The lock serialising starts on one data folder. */

import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { processState } from './running-server.js';

/** A lock file whose mtime is older than this is left over by a dead or hung process. */
const LOCK_STALE_MS = 60_000;
/** The lock holder touches the lock this often, so that a slow initdb is not mistaken for a dead holder. */
const LOCK_REFRESH_MS = 10_000;

export async function acquireLock(file: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_STALE_MS * 2;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx', 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid, at: new Date().toISOString() }));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await lockIsStale(file)) {
      await fs.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out waiting for ${file}; if no other tenantplane process is starting, delete it.`,
      );
    }
    await sleep(100 + Math.floor(Math.random() * 100));
  }
  const refresh = setInterval(() => {
    const now = new Date();
    fs.utimes(file, now, now).catch(() => {});
  }, LOCK_REFRESH_MS);
  refresh.unref();
  return async () => {
    clearInterval(refresh);
    await fs.rm(file, { force: true });
  };
}

async function lockIsStale(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (Date.now() - stat.mtimeMs > LOCK_STALE_MS) return true;
    const { pid } = JSON.parse(await fs.readFile(file, 'utf8')) as { pid?: number };
    return typeof pid === 'number' && processState(pid) === 'dead';
  } catch {
    return false; // gone already, or still being written
  }
}
