import type { Actor } from '../catalog/catalog.js';
import type { DatabaseRecord } from '../catalog/records.js';
import { assertSlug, shardDatabaseName } from '../ids.js';
import { DatabaseBuilder } from './database-builder.js';
import type { ProvisioningContext } from './provisioning-context.js';

/** Adds shared shard databases, on which starter and pro tenants are placed. */
export class ShardProvisioner {
  readonly #builder: DatabaseBuilder;

  constructor(private readonly context: ProvisioningContext) {
    this.#builder = new DatabaseBuilder(context);
  }

  async add(input: { id: string; serverId: string }, actor: Actor): Promise<DatabaseRecord> {
    const id = assertSlug(input.id, 'shard id');
    const serverId = assertSlug(input.serverId, 'server id');
    await this.context.catalog.requireServer(serverId);
    const shard = await this.#builder.build({
      id,
      kind: 'shard',
      serverId,
      databaseName: shardDatabaseName(this.context.databasePrefix, id),
    });
    await this.context.catalog.audit(actor, 'shard.add', null, { shard: id, server: serverId });
    return shard;
  }
}
