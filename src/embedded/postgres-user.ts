/** Running as root: the `postgres` OS user the server runs as, and the folder permissions it needs. */

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { USER } from './persisted-state.js';

export interface PostgresUser {
  uid: number;
  gid: number;
}

/** As root: the `postgres` OS user the server must run as (the library switches to it by itself). */
export async function postgresUserIfRoot(): Promise<PostgresUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) => {
      execFile('id', [flag, USER], (error, stdout) => {
        const value = Number.parseInt(stdout, 10);
        if (error || !Number.isInteger(value)) reject(error ?? new Error(`id ${flag} ${USER}: ${stdout}`));
        else resolve(value);
      });
    });
  try {
    const [uid, gid] = await Promise.all([id('-u'), id('-g')]);
    return { uid, gid };
  } catch {
    throw new Error(
      'This process runs as root and PostgreSQL refuses to run as root, but there is no "postgres" OS user ' +
        'to run the embedded PostgreSQL as. Create one (e.g. `useradd --system --user-group postgres`), run ' +
        'as a regular user, or set CONTROL_DATABASE_URL to use an existing server.',
    );
  }
}

/**
 * The postgres user must be able to reach `<dataDir>/postgres`. The data folder itself is ours, so it gets
 * search (x) permission for others if it lacks it (mkdtemp makes 0700 folders); its parents are only checked.
 */
export async function ensurePostgresCanReach(dataDir: string, pgUser: PostgresUser): Promise<void> {
  const searchable = (stat: { uid: number; gid: number; mode: number }) =>
    stat.uid === pgUser.uid
      ? (stat.mode & 0o100) !== 0
      : stat.gid === pgUser.gid
        ? (stat.mode & 0o010) !== 0
        : (stat.mode & 0o001) !== 0;
  const own = await fs.stat(dataDir);
  if (!searchable(own)) await fs.chmod(dataDir, (own.mode & 0o7777) | 0o001);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const stat = await fs.stat(dir);
    if (!searchable(stat)) {
      throw new Error(
        `The embedded PostgreSQL runs as the "postgres" OS user (this process is root), which cannot reach ` +
          `${dataDir}: ${dir} lacks search permission for it. Allow it (e.g. chmod o+x ${dir}) or choose ` +
          'another data folder (TENANTPLANE_DATA_DIR).',
      );
    }
    if (path.dirname(dir) === dir) break;
  }
}

/** PostgreSQL insists that its data folder belongs to the user it runs as. */
export async function ensureOwnedBy(dir: string, pgUser: PostgresUser): Promise<void> {
  const stat = await fs.stat(dir);
  if (stat.uid === pgUser.uid) return;
  const walk = async (target: string): Promise<void> => {
    await fs.lchown(target, pgUser.uid, pgUser.gid);
    const info = await fs.lstat(target);
    if (!info.isDirectory()) return;
    for (const entry of await fs.readdir(target)) await walk(path.join(target, entry));
  };
  await walk(dir);
}
