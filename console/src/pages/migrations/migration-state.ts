import type { Schemas } from '../../api/client';

export type MigrationState = 'up to date' | 'pending' | 'failed' | 'drift' | 'unreachable';

/** One word for a database's migrations, worst first: what an operator acts on. */
export function migrationState(database: Schemas['MigrationStatus']): MigrationState {
  if (!database.reachable) return 'unreachable';
  if (database.drift) return 'drift';
  if (database.lastRun?.status === 'failed') return 'failed';
  if (database.pending.length > 0) return 'pending';
  return 'up to date';
}
