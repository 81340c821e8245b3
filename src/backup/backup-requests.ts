import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Actor } from '../catalog/catalog.js';
import { ConflictError, type ErrorCode, InvalidInputError, TenantplaneError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import type { JobQueue, JobSnapshot } from '../jobs/job-queue.js';
import { newArchiveId } from './tenant-export.js';

export type RequestKind = 'export' | 'backup' | 'restore';

/** What a queued job receives: enough to redo the work from scratch on any worker. */
export interface RequestJobData {
  requestId: string;
  tenantId: string;
  params: Record<string, unknown>;
  actor: Actor;
  attempts: number;
}

export interface SubmitInput {
  kind: RequestKind;
  queue: string;
  tenantId: string;
  params: Record<string, unknown>;
  actor: Actor;
  idempotencyKey?: string | undefined;
}

/** How a request ended, recorded with `active = false` when its job is done for good. */
export type RequestOutcome =
  | { state: 'completed'; result: unknown }
  | { state: 'failed'; error: string; errorCode?: ErrorCode | undefined };

/** A request's job as the catalog remembers it: the job status route's shape, for a job the queue forgot. */
export type RecordedJob = Pick<JobSnapshot, 'id' | 'state' | 'progress' | 'result' | 'error'> & {
  /** The failed job's error code, when the error carried one. */
  errorCode: ErrorCode | null;
};

const ACTIVE_STATES = ['waiting', 'active', 'delayed'];
const MAX_KEY_LENGTH = 200;
export const REQUEST_ATTEMPTS = 3;
export const REQUEST_BACKOFF_MS = 1000;

/**
 * Turns export, backup and restore requests into jobs with deterministic ids. The same idempotency key is
 * always the same job; without one, a request while the same kind of work is queued or running for the
 * tenant joins that job (or is refused with 409 when it asks for something else). A request that has
 * finished is never enqueued again: the queue may have forgotten its job, and enqueuing the id anew would
 * do the work again. Its outcome, recorded in the catalog, answers for the job instead.
 */
export class BackupRequests {
  constructor(
    private readonly knex: Knex,
    private readonly jobs: JobQueue,
    private readonly retry = { attempts: REQUEST_ATTEMPTS, backoffMs: REQUEST_BACKOFF_MS },
  ) {}

  async submit(input: SubmitInput): Promise<{ jobId: string; requestId: string; joined: boolean }> {
    assertSlug(input.tenantId);
    const key = input.idempotencyKey;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
      throw new InvalidInputError(
        `an idempotency key is 1-${MAX_KEY_LENGTH} characters`,
        'invalid_idempotency_key',
      );
    }
    const same = (row: { params: unknown }) => JSON.stringify(row.params) === JSON.stringify(input.params);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      if (key !== undefined) {
        const keyed = await this.knex('backup_requests')
          .where({ tenant_id: input.tenantId, kind: input.kind, idempotency_key: key })
          .first();
        if (keyed) {
          if (!same(keyed)) {
            throw new ConflictError(
              'this idempotency key was used for another request',
              'idempotency_key_reused',
            );
          }
          // Still active: enqueuing again is a no-op for a known job and revives one a crash kept from being
          // queued. Finished: the first result stands, whether or not the queue still knows the job.
          if (keyed.active) await this.#enqueue(input.queue, keyed);
          return { jobId: keyed.job_id, requestId: keyed.id, joined: true };
        }
      }
      const active = await this.knex('backup_requests')
        .where({ tenant_id: input.tenantId, kind: input.kind, active: true })
        .first();
      if (active) {
        const job = await this.jobs.get(input.queue, active.job_id);
        if (!job || ACTIVE_STATES.includes(job.state)) {
          if (!same(active)) {
            throw new ConflictError(
              `a ${input.kind} of ${input.tenantId} is already under way (job ${active.job_id})`,
              'operation_in_progress',
            );
          }
          // Enqueuing again is a no-op for a known job and revives one a crash kept from being queued.
          await this.#enqueue(input.queue, active);
          return { jobId: active.job_id, requestId: active.id, joined: true };
        }
        // The queue finished the job but the request was not marked (its job died between the two): the
        // queue's outcome is recorded now.
        await this.finish(active.id, outcomeOf(job));
        continue;
      }
      const requestId = newArchiveId();
      const row = {
        id: requestId,
        tenant_id: input.tenantId,
        kind: input.kind,
        job_id: `${input.kind}.${input.tenantId}.${key === undefined ? requestId : `k${digest(key)}`}`,
        idempotency_key: key ?? null,
        params: JSON.stringify(input.params),
        actor: JSON.stringify(input.actor),
        active: true,
      };
      const inserted = await this.knex('backup_requests').insert(row).onConflict().ignore().returning('*');
      if (inserted.length === 0) continue;
      await this.#enqueue(input.queue, inserted[0]);
      return { jobId: row.job_id, requestId, joined: false };
    }
    throw new ConflictError(
      `could not settle a ${input.kind} request for ${input.tenantId}; retry`,
      'request_race',
    );
  }

  /**
   * Called by the job when it is done for good, so the next request starts new work, with how it ended: a
   * replay of the request, or a look-up of its job once the queue has forgotten it, answers with that.
   */
  async finish(requestId: string, outcome?: RequestOutcome): Promise<void> {
    await this.knex('backup_requests')
      .where({ id: requestId })
      .update({
        active: false,
        ...(outcome === undefined
          ? {}
          : {
              state: outcome.state,
              result: outcome.state === 'completed' ? JSON.stringify(outcome.result ?? null) : null,
              error: outcome.state === 'failed' ? outcome.error : null,
              error_code: outcome.state === 'failed' ? (outcome.errorCode ?? null) : null,
              finished_at: this.knex.fn.now(),
            }),
      });
  }

  /**
   * The job of a request, as the catalog knows it: its recorded outcome once finished, `unknown` while the
   * request is active (the queue is the authority then) or when it finished without one recorded (before
   * outcomes were kept). Undefined when no request has this job id.
   */
  async jobById(jobId: string): Promise<RecordedJob | undefined> {
    const row = await this.knex('backup_requests')
      .where({ job_id: jobId })
      .first('job_id', 'active', 'state', 'result', 'error', 'error_code');
    if (!row) return undefined;
    const state =
      !row.active && (row.state === 'completed' || row.state === 'failed') ? row.state : 'unknown';
    return {
      id: row.job_id,
      state,
      progress: null,
      result: state === 'completed' ? row.result : null,
      error: state === 'failed' ? row.error : null,
      errorCode: state === 'failed' ? row.error_code : null,
    };
  }

  async #enqueue(queue: string, row: Record<string, unknown>): Promise<void> {
    const data: RequestJobData = {
      requestId: row.id as string,
      tenantId: row.tenant_id as string,
      params: row.params as Record<string, unknown>,
      actor: JSON.parse(row.actor as string) as Actor,
      attempts: this.retry.attempts,
    };
    await this.jobs.enqueue(queue, data, {
      jobId: row.job_id as string,
      attempts: this.retry.attempts,
      backoffMs: this.retry.backoffMs,
    });
  }
}

/** The outcome of a job the queue reports finished; undefined for one in another state. */
export function outcomeOf(job: JobSnapshot): RequestOutcome | undefined {
  if (job.state === 'completed') return { state: 'completed', result: job.result };
  if (job.state === 'failed') return { state: 'failed', error: job.error ?? 'failed' };
  return undefined;
}

/** A failed job's recorded error as an error to throw, with the code it carried. */
export function recordedError(job: RecordedJob): TenantplaneError {
  return new TenantplaneError(job.errorCode ?? 'job_failed', 'internal', job.error ?? `job ${job.id} failed`);
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}
