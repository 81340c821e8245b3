import type { Knex } from 'knex';
import type { Actor } from '../catalog/catalog.js';
import { ConflictError } from '../errors/index.js';
import { currentXid } from './instance-confirmations.js';

export type MoveState = 'copying' | 'switched';

/** A tier move in progress, as recorded in the catalog's `tenant_moves`. */
export interface MoveRecord {
  tenantId: string;
  fromDatabaseId: string;
  toDatabaseId: string;
  fromTier: string;
  toTier: string;
  fromStatus: 'active' | 'suspended';
  state: MoveState;
}

function toMove(row: Record<string, unknown>): MoveRecord {
  return {
    tenantId: row.tenant_id as string,
    fromDatabaseId: row.from_database_id as string,
    toDatabaseId: row.to_database_id as string,
    fromTier: row.from_tier as string,
    toTier: row.to_tier as string,
    fromStatus: row.from_status as MoveRecord['fromStatus'],
    state: row.state as MoveState,
  };
}

/**
 * The catalog side of a tier move: the `tenant_moves` row that lets the next attempt roll back or finish
 * a move a crash interrupted, and the status changes that pause and switch the tenant.
 */
export class MoveLedger {
  constructor(private readonly knex: Knex) {}

  async get(tenantId: string): Promise<MoveRecord | undefined> {
    const row = await this.knex('tenant_moves').where({ tenant_id: tenantId }).first();
    return row ? toMove(row) : undefined;
  }

  async start(move: Omit<MoveRecord, 'state'>): Promise<void> {
    await this.knex('tenant_moves').insert({
      tenant_id: move.tenantId,
      from_database_id: move.fromDatabaseId,
      to_database_id: move.toDatabaseId,
      from_tier: move.fromTier,
      to_tier: move.toTier,
      from_status: move.fromStatus,
      state: 'copying',
    });
  }

  async forget(tenantId: string): Promise<void> {
    await this.knex('tenant_moves').where({ tenant_id: tenantId }).delete();
  }

  /**
   * Pauses the tenant's writes: status `moving`, only if it is still where and as the move found it (a
   * delete or suspend that came in meanwhile wins). Returns whether the pause took.
   */
  async pause(move: MoveRecord): Promise<boolean> {
    const updated = await this.knex('tenants')
      .where({ id: move.tenantId, status: move.fromStatus, database_id: move.fromDatabaseId })
      .update({ status: 'moving', updated_at: this.knex.fn.now() });
    return updated === 1;
  }

  /** Gives the tenant back its status on the old placement, if the move had paused it. */
  async resume(move: MoveRecord): Promise<void> {
    await this.knex('tenants')
      .where({ id: move.tenantId, status: 'moving', database_id: move.fromDatabaseId })
      .update({ status: move.fromStatus, updated_at: this.knex.fn.now() });
  }

  /**
   * The switch: the tenant's placement, tier and status, the move's state and the audit entry commit
   * together, so a crash leaves either the old placement or the new one in charge, never neither.
   * `assertLockHeld` (the move lock's assertHeld) runs last in the transaction: a move whose lock was lost,
   * so that another process may be rolling it back, never switches.
   */
  async switchPlacement(
    move: MoveRecord,
    actor: Actor,
    details: Record<string, unknown>,
    assertLockHeld: (trx: Knex.Transaction) => Promise<void>,
  ): Promise<void> {
    await this.knex.transaction(async (trx) => {
      const updated = await trx('tenants')
        .where({ id: move.tenantId, status: 'moving', database_id: move.fromDatabaseId })
        .update({
          database_id: move.toDatabaseId,
          tier: move.toTier,
          status: move.fromStatus,
          updated_at: trx.fn.now(),
        });
      if (updated !== 1) throw new Error(`tenant ${move.tenantId} changed during its move`);
      await trx('tenant_moves')
        .where({ tenant_id: move.tenantId })
        .update({ state: 'switched', updated_at: trx.fn.now() });
      await trx('audit_log').insert({
        actor: actor.actor,
        action: 'tenant.move',
        tenant_id: move.tenantId,
        request_id: actor.requestId ?? null,
        details: JSON.stringify(details),
      });
      await assertLockHeld(trx);
    });
  }

  /**
   * How many moves of the tenant have ended (done or rolled back): part of the move job's id, so the same
   * request twice while a move runs is one job, and a request after it ended is a new one.
   */
  async endedMoves(tenantId: string): Promise<number> {
    const row = await this.knex('audit_log')
      .where({ tenant_id: tenantId })
      .whereIn('action', ['tenant.move', 'tenant.move_failed'])
      .count<{ count: string }[]>('* as count')
      .first();
    return Number(row?.count ?? 0);
  }
}

/**
 * Pauses the tenant (see MoveLedger.pause) and returns the pausing transaction's id, which serving
 * instances confirm; a tenant that changed since the move began is a conflict.
 */
export async function pauseTenant(knex: Knex, move: MoveRecord): Promise<string> {
  const xid = await knex.transaction(async (trx) => {
    if (!(await new MoveLedger(trx).pause(move))) return undefined;
    return currentXid(trx);
  });
  if (xid === undefined) {
    throw new ConflictError(`tenant ${move.tenantId} changed during its move`, 'tenant_changed');
  }
  return xid;
}
