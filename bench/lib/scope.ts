/** A bench run's names: what cleanup needs, known before anything else is created. */

import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface BenchScope {
  /** Carried by every database and role of the run. */
  prefix: string;
  controlDatabase: string;
  /** A temporary folder of the run's own (TENANTPLANE_DATA_DIR). */
  dataDir: string;
}

/**
 * Same shape as the test planes: a random prefix `<tag><8 hex digits>`, the control database
 * `<prefix>_control`, and a temporary folder whose name starts with `folderPrefix`.
 */
export async function createScope(tag: string, folderPrefix: string): Promise<BenchScope> {
  const prefix = `${tag}${randomBytes(4).toString('hex')}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), folderPrefix));
  return { prefix, controlDatabase: `${prefix}_control`, dataDir };
}
