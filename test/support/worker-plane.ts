import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Tenantplane } from '../../src/tenantplane.js';
import { TEST_REDIS_URL } from '../setup/hooks.js';
import { removeQueueKeys } from './redis-keys.js';
import { createTestPlane, type TestPlane } from './test-plane.js';

/** A plane on BullMQ (its own Redis key prefix) with a file store, and `tenantctl worker`s beside it. */
export interface WorkerPlane {
  plane: TestPlane<Tenantplane>;
  storeDir: string;
  /** Starts a `tenantctl worker` child on the plane's catalog, Redis prefix and store. */
  startWorker(concurrency?: number): ChildProcess;
  /** The names in the store's folder of a tenant's backups, hidden temporary files included. */
  backupFiles(tenantId: string): Promise<string[]>;
  /** Kills the workers still running, closes the plane, removes the store and the prefix's Redis keys. */
  close(): Promise<void>;
}

export async function openWorkerPlane(name: string): Promise<WorkerPlane> {
  const jobsPrefix = `tp${name}${randomBytes(4).toString('hex')}`;
  const storeDir = await mkdtemp(path.join(os.tmpdir(), `tenantplane-${name}-`));
  const env = { REDIS_URL: TEST_REDIS_URL, BACKUP_URL: `file://${storeDir}` };
  const plane = await createTestPlane({ serveTraffic: false, jobsPrefix }, env);
  const workers: ChildProcess[] = [];
  return {
    plane,
    storeDir,
    startWorker(concurrency = 1) {
      const worker = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--concurrency', String(concurrency)],
        { env: plane.cliEnv({ ...env, JOBS_PREFIX: jobsPrefix, LOG_LEVEL: 'warn' }), stdio: 'ignore' },
      );
      workers.push(worker);
      return worker;
    },
    backupFiles: (tenantId) => readdir(path.join(storeDir, 'backups', tenantId)).catch(() => [] as string[]),
    async close() {
      for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
      await plane.close();
      await rm(storeDir, { recursive: true, force: true });
      await removeQueueKeys(jobsPrefix);
    },
  };
}
