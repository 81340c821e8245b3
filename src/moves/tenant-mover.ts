import type pg from 'pg';
import type { Actor, Catalog } from '../catalog/catalog.js';
import type { DatabaseRecord } from '../catalog/records.js';
import { ConflictError, SQLSTATE, sqlStateOf } from '../errors/index.js';
import { assertSlug, quoteIdent } from '../ids.js';
import type { Logger } from '../logging/logger.js';
import type { PlacementPolicy } from '../placement/placement-policy.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import { DatabaseBuilder } from '../provisioning/database-builder.js';
import type { ProvisioningContext } from '../provisioning/provisioning-context.js';
import { tenantTables } from '../provisioning/tenant-database.js';
import { deleteTenantRows } from '../provisioning/tenant-rows.js';
import { applyAllCaptured, catchUp, startChangeCapture, stopChangeCapture } from './change-capture.js';
import { currentXid, waitForConfirmations } from './instance-confirmations.js';
import { connectForMove } from './move-connections.js';
import { type DedicatedBuild, type MoveDestination, planMove } from './move-destination.js';
import { MoveLedger, type MoveRecord } from './move-ledger.js';
import { lockTenantMove, type TenantLock } from './move-lock.js';
import { matchingLayouts, type TableLayout } from './table-layout.js';
import {
  copyTenant,
  digestTenant,
  type OnProgress,
  resyncTenant,
  type TenantDigests,
} from './tenant-copy.js';
import { quiesceTenant } from './tenant-quiesce.js';
import { waitForNoConnections } from './writer-drain.js';

export interface TenantMoverOptions extends ProvisioningContext {
  controlDatabaseUrl: string;
  /** Where a tenant may go (regions, draining servers, the roomiest shard). */
  placement: PlacementPolicy;
  /**
   * How long the pause waits for every live serving instance to confirm it (see waitForConfirmations)
   * before the move gives up and rolls back, in ms. Default 10000.
   */
  confirmTimeoutMs?: number;
  /** How often the confirmations are polled, in ms. Default 10. */
  confirmPollMs?: number;
  /** How long the pause waits for transactions begun before it, in ms. Default 30000. */
  drainTimeoutMs?: number;
  /**
   * How the pause finds what changed since the last catch-up: `capture` (default) has triggers on the
   * source note every changed row (see change-capture.ts), and falls back to `compare` when the admin role
   * may not create them; `compare` digests the whole tenant on both sides, so the pause grows with it.
   */
  cutover?: 'capture' | 'compare';
}

/** How a move's pause found what changed: captured by triggers, or compared over the whole tenant. */
export type Cutover = 'captured' | 'compared';

export type { MovePhase, MoveProgress } from './tenant-copy.js';

export interface MoveResult {
  tenant_id: string;
  moved: boolean;
  from: { tier: string; database_id: string | null };
  to: { tier: string; database_id: string | null };
  /** How the pause found what changed (see TenantMoverOptions.cutover). */
  cutover: Cutover;
  rows_copied: number;
  /** Rows re-synced while writes were paused (inserted, updated or deleted since the catch-up). */
  rows_resynced: number;
  /** How long the tenant's requests got 503, in ms. */
  pause_ms: number;
  /** Of the pause, how long every serving instance took to confirm it refuses the tenant, in ms. */
  confirm_ms: number;
  duration_ms: number;
}

/** After the switch, how long routers get to close their pools of an old dedicated database before it is dropped. */
const OLD_POOL_GRACE_MS = 3000;

/**
 * Moves a tenant between a shared shard and a dedicated database when its tier changes placement.
 *
 * The rows are copied from a snapshot while the tenant keeps serving from its old placement, then caught up
 * once more. Only then is the tenant paused (status `moving`, 503 with Retry-After): once every live
 * serving instance has confirmed the pause (its `instances.catalog_xmin` passed the pausing transaction,
 * or its lease lapsed) and every transaction begun before that has ended, what changed since the catch-up
 * is re-synced, and the catalog switches placement, tier and status in one transaction. The old rows (or
 * the old dedicated database) go last.
 *
 * Any failure before the switch puts the tenant back on its old placement and removes what was copied.
 * So does the loss of the move lock (see lockTenantMove): the move stops at its next step, and the switch
 * commits only while the lock's session still holds the lock.
 * Progress is recorded in `tenant_moves`, so a move interrupted by a crash is rolled back (or, past the
 * switch, finished) by the next move of that tenant.
 */
export class TenantMover {
  readonly #catalog: Catalog;
  readonly #logger: Logger;
  readonly #builder: DatabaseBuilder;
  readonly #ledger: MoveLedger;
  readonly #confirmTimeoutMs: number;
  readonly #confirmPollMs: number;
  readonly #drainTimeoutMs: number;

  constructor(private readonly options: TenantMoverOptions) {
    this.#catalog = options.catalog;
    this.#logger = options.logger;
    this.#builder = new DatabaseBuilder(options);
    this.#ledger = new MoveLedger(options.catalog.knex);
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 10000;
    this.#confirmPollMs = options.confirmPollMs ?? 10;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 30000;
  }

  /**
   * Moves the tenant to `destination` (see MoveDestination) while it keeps serving; a destination it is at
   * already is no move (`moved: false`), and a tier change within the same kind of placement only changes
   * the catalog.
   */
  async move(
    tenantId: string,
    destination: MoveDestination,
    actor: Actor,
    onProgress: OnProgress = () => {},
  ): Promise<MoveResult> {
    assertSlug(tenantId);
    const lock = await this.#lock(tenantId);
    try {
      await this.#recover(tenantId, actor);
      return await this.#start(tenantId, destination, actor, onProgress, lock);
    } catch (error) {
      // Every failed attempt is on record, which also gives a re-request a fresh job id.
      await this.#catalog
        .audit(actor, 'tenant.move_failed', tenantId, { ...destination, error: (error as Error).message })
        .catch((auditError) => this.#logger.error({ err: auditError }, 'could not audit the failed move'));
      throw error;
    } finally {
      await lock.release();
    }
  }

  #lock(tenantId: string): Promise<TenantLock> {
    return lockTenantMove(this.options.controlDatabaseUrl, tenantId, { logger: this.#logger });
  }

  async #start(
    tenantId: string,
    destination: MoveDestination,
    actor: Actor,
    onProgress: OnProgress,
    lock: TenantLock,
  ): Promise<MoveResult> {
    const started = Date.now();
    const catalog = this.#catalog;
    const tenant = await catalog.requireTenant(tenantId);
    if ((tenant.status !== 'active' && tenant.status !== 'suspended') || !tenant.databaseId) {
      throw new ConflictError(
        `tenant ${tenantId} is ${tenant.status}; it cannot move`,
        'invalid_status_change',
      );
    }
    const plan = await planMove(
      { catalog, placement: this.options.placement, databasePrefix: this.options.databasePrefix },
      tenant,
      destination,
    );
    const unmoved = (moved: boolean): MoveResult => ({
      tenant_id: tenantId,
      moved,
      from: { tier: tenant.tier, database_id: tenant.databaseId },
      to: { tier: plan.toTier.id, database_id: tenant.databaseId },
      cutover: 'captured',
      rows_copied: 0,
      rows_resynced: 0,
      pause_ms: 0,
      confirm_ms: 0,
      duration_ms: Date.now() - started,
    });
    if (plan.kind === 'none') return unmoved(false);
    if (plan.kind === 'tier-only') {
      // The placement stays: a catalog change is all it takes.
      await catalog.updateTenant(tenantId, { tier: plan.toTier.id });
      await catalog.audit(actor, 'tenant.set_tier', tenantId, { from: tenant.tier, to: plan.toTier.id });
      return unmoved(false);
    }
    const move: MoveRecord = {
      tenantId,
      fromDatabaseId: tenant.databaseId,
      toDatabaseId: plan.toDatabaseId,
      fromTier: tenant.tier,
      toTier: plan.toTier.id,
      fromStatus: tenant.status,
      state: 'copying',
    };
    await this.#ledger.start(move);
    this.#logger.info(
      { tenant: tenantId, from: move.fromDatabaseId, to: move.toDatabaseId },
      'moving tenant',
    );
    try {
      const counts = await this.#copyAndSwitch(move, plan.build, actor, onProgress, lock);
      await onProgress({ phase: 'cleaning' });
      await this.#cleanUp(move);
      await onProgress({ phase: 'done' });
      return {
        ...unmoved(true),
        to: { tier: plan.toTier.id, database_id: move.toDatabaseId },
        ...counts,
        duration_ms: Date.now() - started,
      };
    } catch (error) {
      if ((await this.#ledger.get(tenantId))?.state === 'switched') {
        // The tenant already serves from its new placement; only the old one's cleanup is left.
        throw new ConflictError(
          `tenant ${tenantId} moved, but removing its old placement failed (${(error as Error).message}); run the move again to finish`,
          'move_cleanup_failed',
        );
      }
      await this.#rollBackUnder(lock, move, error);
      throw error;
    }
  }

  /**
   * Rolls back under the move lock. A lost lock may have been taken by another process since, which then
   * rolls this move back itself (see #recover): the rollback runs only under the lock taken again.
   */
  async #rollBackUnder(lock: TenantLock, move: MoveRecord, cause: unknown): Promise<void> {
    if (!lock.signal.aborted) return this.#rollBack(move, cause);
    let again: TenantLock;
    try {
      again = await this.#lock(move.tenantId);
    } catch (lockError) {
      this.#logger.error(
        { tenant: move.tenantId, err: lockError },
        'the move lost its lock and cannot take it again; the next move of the tenant rolls it back',
      );
      return;
    }
    try {
      await this.#rollBack(move, cause);
    } finally {
      await again.release();
    }
  }

  async #copyAndSwitch(
    move: MoveRecord,
    build: DedicatedBuild | undefined,
    actor: Actor,
    onProgress: OnProgress,
    lock: TenantLock,
  ): Promise<Pick<MoveResult, 'cutover' | 'rows_copied' | 'rows_resynced' | 'pause_ms' | 'confirm_ms'>> {
    // A move whose lock is lost stops at the next step and rolls back: another process may take the lock.
    const stillLocked = () => lock.signal.throwIfAborted();
    await onProgress({ phase: 'preparing' });
    const sourceDb = await this.#requireDatabase(move.fromDatabaseId);
    const targetDb = await this.#prepareTarget(move, build);
    const clients: pg.Client[] = [];
    try {
      const source = await connectForMove(this.#catalog, sourceDb);
      clients.push(source);
      const target = await connectForMove(this.#catalog, targetDb);
      clients.push(target);
      const layouts = await matchingLayouts(source, target);
      // Capture first, then copy: whatever commits after the copy's snapshot is captured.
      const cutover = await this.#startCapture(source, move.tenantId, layouts);

      const copied = await copyTenant(source, target, move.tenantId, layouts, onProgress, {
        targetExclusive: targetDb.kind === 'dedicated',
      });
      stillLocked();
      // Writes went on during the bulk copy: catch up while still serving, so the pause is short.
      await onProgress({ phase: 'catching_up', rows: copied });
      let targetDigests: TenantDigests | undefined;
      if (cutover === 'captured') {
        await catchUp(source, target, move.tenantId, layouts, stillLocked);
      } else {
        await resyncTenant(source, target, move.tenantId, layouts);
        stillLocked();
        // Only the move writes the target, so its digests, taken now, still hold during the pause.
        targetDigests = await digestTenant(target, move.tenantId, layouts);
      }
      stillLocked();

      // Nothing writes the old placement once every serving instance refuses the tenant and the
      // transactions begun before that have ended.
      const { pausedAt, confirmed } = await quiesceTenant(
        this.#catalog.knex,
        move,
        {
          admin: source,
          databaseName: sourceDb.databaseName,
          appRole: (await this.#catalog.requireServer(sourceDb.serverId)).appRole,
        },
        {
          confirmTimeoutMs: this.#confirmTimeoutMs,
          confirmPollMs: this.#confirmPollMs,
          drainTimeoutMs: this.#drainTimeoutMs,
          checkpoint: stillLocked,
          onPaused: () => onProgress({ phase: 'paused', rows: copied }),
        },
      );
      this.#logger.info(
        { tenant: move.tenantId, confirm_ms: confirmed.waitedMs, instances: confirmed.waitedFor },
        'every serving instance confirmed the pause, and the transactions begun before it ended',
      );
      const resynced =
        cutover === 'captured'
          ? await applyAllCaptured(source, target, move.tenantId, layouts)
          : await resyncTenant(source, target, move.tenantId, layouts, targetDigests);
      const pauseMs = Math.round(performance.now() - pausedAt);
      const counts = {
        cutover,
        rows_copied: copied,
        rows_resynced: resynced,
        pause_ms: pauseMs,
        confirm_ms: confirmed.waitedMs,
      };
      stillLocked();
      // The switch commits only if the lock's session still holds the lock, checked in its transaction.
      await this.#ledger.switchPlacement(
        move,
        actor,
        {
          from: { tier: move.fromTier, database: move.fromDatabaseId },
          to: { tier: move.toTier, database: move.toDatabaseId },
          ...counts,
        },
        (trx) => lock.assertHeld(trx),
      );
      this.#logger.info({ tenant: move.tenantId, ...counts }, 'tenant switched to its new placement');
      await onProgress({ phase: 'switched', rows: copied });
      return counts;
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => {})));
    }
  }

  /**
   * Starts capturing the tenant's changes on the source, unless the mover compares instead or the admin role
   * may not create triggers there (tables owned by another role): then the whole tenant is compared.
   */
  async #startCapture(source: pg.Client, tenantId: string, layouts: TableLayout[]): Promise<Cutover> {
    if (this.options.cutover === 'compare') return 'compared';
    try {
      await startChangeCapture(source, tenantId, layouts);
      return 'captured';
    } catch (error) {
      if (sqlStateOf(error) !== SQLSTATE.insufficientPrivilege) throw error;
      this.#logger.warn(
        { tenant: tenantId, err: error },
        'the admin role may not create triggers on the source tables; comparing the whole tenant instead',
      );
      return 'compared';
    }
  }

  /** Drops the capture triggers a move put on a database it no longer needs them on (a no-op if none). */
  async #stopCapture(database: DatabaseRecord, tenantId: string): Promise<void> {
    const url = await this.#catalog.serverAdminUrl(database.serverId, database.databaseName);
    await withAdminClient(url, async (client) => {
      const tables = (await tenantTables(client)).map(quoteIdent);
      await stopChangeCapture(client, tenantId, tables);
    });
  }

  /** The target, ready and empty of the tenant: built (and migrated) if dedicated, cleared if a shard. */
  async #prepareTarget(move: MoveRecord, build: DedicatedBuild | undefined): Promise<DatabaseRecord> {
    if (build) {
      // A database left by an earlier attempt is dropped and built afresh rather than trusted.
      if (await this.#catalog.getDatabase(build.id)) await this.#builder.destroy(build.id);
      await this.#builder.build({ ...build, kind: 'dedicated', ownerTenantId: move.tenantId });
    }
    const target = await this.#requireDatabase(move.toDatabaseId);
    await this.#clearTarget(move, target);
    return target;
  }

  /** Removes the tenant's rows from a target that does not serve it (what an earlier attempt left). */
  async #clearTarget(move: MoveRecord, target: DatabaseRecord): Promise<void> {
    const tenant = await this.#catalog.getTenant(move.tenantId);
    if (tenant?.databaseId === target.id)
      throw new Error(`refusing to clear ${target.id}: it serves the tenant`);
    const url = await this.#catalog.serverAdminUrl(target.serverId, target.databaseName);
    await withAdminClient(url, (client) => deleteTenantRows(client, move.tenantId));
  }

  /** After the switch: the old placement loses the tenant's rows, or is dropped if it was its own. */
  async #cleanUp(move: MoveRecord): Promise<void> {
    const old = await this.#catalog.getDatabase(move.fromDatabaseId);
    if (old?.kind === 'dedicated') {
      // Routers close the old pool once the switch reaches them: wait until every serving instance has
      // heard of it (the switch committed before this transaction id was taken), and for in-flight work
      // on those pools to end, before forcing it.
      await waitForConfirmations(this.#catalog.knex, await currentXid(this.#catalog.knex), {
        timeoutMs: this.#confirmTimeoutMs,
        pollMs: this.#confirmPollMs,
      }).catch((error: unknown) =>
        this.#logger.warn({ tenant: move.tenantId, err: error }, 'dropping the old database anyway'),
      );
      const appRole = (await this.#catalog.requireServer(old.serverId)).appRole;
      await withAdminClient(await this.#catalog.serverAdminUrl(old.serverId), (client) =>
        waitForNoConnections(client, old.databaseName, appRole, OLD_POOL_GRACE_MS),
      );
      await this.#builder.destroy(old.id);
    } else if (old) {
      await this.#stopCapture(old, move.tenantId);
      const url = await this.#catalog.serverAdminUrl(old.serverId, old.databaseName);
      const removed = await withAdminClient(url, (client) => deleteTenantRows(client, move.tenantId));
      this.#logger.info({ tenant: move.tenantId, shard: old.id, removed }, 'old rows removed from shard');
    }
    await this.#ledger.forget(move.tenantId);
  }

  /** Before the switch: the tenant serves from where it was again, and the target loses what was copied. */
  async #rollBack(move: MoveRecord, cause: unknown): Promise<void> {
    this.#logger.warn({ tenant: move.tenantId, err: cause }, 'tenant move failed; rolling back');
    try {
      await this.#ledger.resume(move);
      const source = await this.#catalog.getDatabase(move.fromDatabaseId);
      if (source) await this.#stopCapture(source, move.tenantId);
      const target = await this.#catalog.getDatabase(move.toDatabaseId);
      const tenant = await this.#catalog.getTenant(move.tenantId);
      if (target && tenant?.databaseId !== target.id) {
        if (target.kind === 'dedicated') await this.#builder.destroy(target.id);
        else await this.#clearTarget(move, target);
      }
      await this.#ledger.forget(move.tenantId);
    } catch (rollbackError) {
      // The record stays: the next move of this tenant finishes the rollback first.
      this.#logger.error({ tenant: move.tenantId, err: rollbackError }, 'rolling back the move also failed');
    }
  }

  /** Rolls back, or finishes, a move an earlier process left behind (it held the lock we now hold). */
  async #recover(tenantId: string, actor: Actor): Promise<void> {
    const leftover = await this.#ledger.get(tenantId);
    if (!leftover) return;
    this.#logger.warn({ tenant: tenantId, state: leftover.state }, 'found an interrupted move');
    if (leftover.state === 'switched') await this.#cleanUp(leftover);
    else await this.#rollBack(leftover, new Error('interrupted before the switch'));
    await this.#catalog.audit(actor, 'tenant.move_recovered', tenantId, {
      state: leftover.state,
      from: leftover.fromDatabaseId,
      to: leftover.toDatabaseId,
    });
    // A rollback that failed again leaves the record; moving on top of it would lose track of the target.
    if (await this.#ledger.get(tenantId)) {
      throw new ConflictError(
        `tenant ${tenantId} has an unfinished move that could not be cleared`,
        'move_stuck',
      );
    }
  }

  async #requireDatabase(id: string): Promise<DatabaseRecord> {
    const database = await this.#catalog.getDatabase(id);
    if (database?.status !== 'ready')
      throw new ConflictError(`database ${id} is not ready`, 'database_not_ready');
    return database;
  }
}
