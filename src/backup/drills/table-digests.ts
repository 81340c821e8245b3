import type { Knex } from 'knex';

/** Records a pending backup's table digests (`backups.table_digests`), before the row becomes complete. */
export async function recordTableDigests(
  knex: Knex,
  backupId: string,
  digests: Record<string, string>,
): Promise<void> {
  await knex('backups')
    .where({ id: backupId, state: 'pending' })
    .update({ table_digests: JSON.stringify(digests) });
}

/** A backup's table digests, or null for a backup recorded before digests were (checked by counts only). */
export async function tableDigestsOf(knex: Knex, backupId: string): Promise<Record<string, string> | null> {
  const row = await knex('backups').where({ id: backupId }).first('table_digests');
  return (row?.table_digests as Record<string, string> | null | undefined) ?? null;
}
