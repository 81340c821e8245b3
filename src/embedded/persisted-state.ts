/**
 * The state kept next to the cluster in `<dataDir>/embedded-postgres.json`: the port and the superuser
 * password, which the cluster cannot be reached without.
 */

import fs from 'node:fs/promises';
import path from 'node:path';

export const USER = 'postgres';
export const HOST = '127.0.0.1';
export const STATE_FILE = 'embedded-postgres.json';

export interface PersistedState {
  port: number;
  password: string;
}

export function adminUrl(state: PersistedState): string {
  return `postgres://${USER}:${encodeURIComponent(state.password)}@${HOST}:${state.port}/postgres`;
}

export async function readState(dataDir: string): Promise<PersistedState | undefined> {
  const file = path.join(dataDir, STATE_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: Partial<PersistedState>;
  try {
    parsed = JSON.parse(text) as Partial<PersistedState>;
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed.password !== 'string' || !Number.isInteger(parsed.port)) {
    throw new Error(`${file} lacks a "port" (integer) or "password" (string)`);
  }
  return { port: parsed.port as number, password: parsed.password };
}

/** Writes the state file atomically with mode 0600 (it holds the superuser password). */
export async function writeState(dataDir: string, state: PersistedState): Promise<void> {
  const file = path.join(dataDir, STATE_FILE);
  const scratch = `${file}.${process.pid}.tmp`;
  await fs.writeFile(
    scratch,
    `${JSON.stringify({ port: state.port, password: state.password }, null, 2)}\n`,
    {
      mode: 0o600,
    },
  );
  await fs.chmod(scratch, 0o600);
  await fs.rename(scratch, file);
}
