import type { Knex } from 'knex';
import type { Actor } from '../../catalog/catalog.js';
import { InvalidFieldError, NotFoundError } from '../../errors/index.js';
import { formatDuration } from './duration.js';

/** A tier's backup schedule (`backup_schedules`): cadence, retention, and the restore drills' cadence. */
export interface BackupSchedule {
  tier: string;
  everySeconds: number;
  /** Complete backups kept per tenant, newest first. */
  keepCount: number;
  /** Complete backups older than this many days go too, when set. */
  keepDays: number | null;
  drillEverySeconds: number | null;
  updatedAt: Date;
}

export type ScheduleInput = Omit<BackupSchedule, 'updatedAt'>;

function toSchedule(row: Record<string, unknown>): BackupSchedule {
  return {
    tier: row.tier as string,
    everySeconds: row.every_seconds as number,
    keepCount: row.keep_count as number,
    keepDays: (row.keep_days as number | null) ?? null,
    drillEverySeconds: (row.drill_every_seconds as number | null) ?? null,
    updatedAt: row.updated_at as Date,
  };
}

/** The API's and the CLI's view of a schedule: durations both as written (`6h`) and in seconds. */
export function scheduleView(schedule: BackupSchedule) {
  return {
    tier: schedule.tier,
    every: formatDuration(schedule.everySeconds),
    every_seconds: schedule.everySeconds,
    keep: schedule.keepCount,
    keep_days: schedule.keepDays,
    drill_every: schedule.drillEverySeconds === null ? null : formatDuration(schedule.drillEverySeconds),
    drill_every_seconds: schedule.drillEverySeconds,
    updated_at: schedule.updatedAt,
  };
}

function positiveInteger(value: unknown, what: string, max = 100_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidFieldError(`${what} must be a whole number from 1 to ${max}`);
  }
  return value;
}

/** Backup schedules per tier, set and cleared with an audit entry in the same transaction. */
export class BackupSchedules {
  constructor(private readonly knex: Knex) {}

  async list(): Promise<BackupSchedule[]> {
    return (await this.knex('backup_schedules').orderBy('tier')).map(toSchedule);
  }

  async get(tier: string): Promise<BackupSchedule | undefined> {
    const row = await this.knex('backup_schedules').where({ tier }).first();
    return row ? toSchedule(row) : undefined;
  }

  /** Creates or replaces the tier's schedule (audited `backup_schedule.set`, with the one it replaced). */
  async set(input: ScheduleInput, actor: Actor): Promise<BackupSchedule> {
    const row = {
      tier: input.tier,
      every_seconds: positiveInteger(input.everySeconds, 'every', 366 * 86400),
      keep_count: positiveInteger(input.keepCount, 'keep'),
      keep_days: input.keepDays === null ? null : positiveInteger(input.keepDays, 'keep_days'),
      drill_every_seconds:
        input.drillEverySeconds === null
          ? null
          : positiveInteger(input.drillEverySeconds, 'drill_every', 366 * 86400),
    };
    return this.knex.transaction(async (trx) => {
      const tier = await trx('tiers').where({ id: input.tier }).first('id');
      if (!tier) throw new NotFoundError(`no tier ${input.tier}`, 'unknown_tier');
      const before = await trx('backup_schedules').where({ tier: input.tier }).forUpdate().first();
      const [saved] = await trx('backup_schedules')
        .insert({ ...row, updated_at: trx.fn.now() })
        .onConflict('tier')
        .merge()
        .returning('*');
      const schedule = toSchedule(saved);
      await audit(trx, actor, 'backup_schedule.set', {
        tier: input.tier,
        from: before ? scheduleView(toSchedule(before)) : null,
        to: scheduleView(schedule),
      });
      return schedule;
    });
  }

  /** Removes the tier's schedule (audited `backup_schedule.clear`); 404 `schedule_not_found` without one. */
  async clear(tier: string, actor: Actor): Promise<BackupSchedule> {
    return this.knex.transaction(async (trx) => {
      const [removed] = await trx('backup_schedules').where({ tier }).delete().returning('*');
      if (!removed) throw new NotFoundError(`tier ${tier} has no backup schedule`, 'schedule_not_found');
      const schedule = toSchedule(removed);
      await audit(trx, actor, 'backup_schedule.clear', { tier, from: scheduleView(schedule) });
      return schedule;
    });
  }
}

async function audit(trx: Knex.Transaction, actor: Actor, action: string, details: Record<string, unknown>) {
  await trx('audit_log').insert({
    actor: actor.actor,
    action,
    tenant_id: null,
    request_id: actor.requestId ?? null,
    details: JSON.stringify(details),
  });
}
