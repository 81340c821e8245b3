import { context, propagation, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import type { DatabaseRecord } from '../catalog/records.js';
import { databaseTenant } from '../tenant-session/tenant-binding.js';
import { TENANT_ID, tracingOn, withSpan, withTenant } from './spans.js';

/** Where a job's data carries the trace context of the work that queued it. */
const TRACE_CONTEXT_FIELD = 'traceContext';

type Carrier = Record<string, string>;

/**
 * The job's data with the active trace context (W3C `traceparent`, `tracestate`) added under
 * `traceContext`, so that the job's span continues the trace of the request that queued it, on whichever
 * worker runs it. Data that is not a plain object, or queued outside any trace, is returned as it is.
 */
export function carryTraceContext(data: unknown): unknown {
  if (!tracingOn() || data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  const carrier: Carrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent === undefined ? data : { ...data, [TRACE_CONTEXT_FIELD]: carrier };
}

/**
 * `job <queue>`: one attempt of a job, child of the trace its data carries (see carryTraceContext), else a
 * trace of its own; with the tenant it names (`tenantId` in its data), whose attributes its statements carry.
 */
export function traceJob<T>(
  queue: string,
  data: unknown,
  attempt: number,
  run: () => Promise<T>,
): Promise<T> {
  if (!tracingOn()) return run();
  const fields = (data ?? {}) as { [TRACE_CONTEXT_FIELD]?: unknown; tenantId?: unknown };
  const carrier = fields[TRACE_CONTEXT_FIELD];
  const parent =
    carrier !== null && typeof carrier === 'object'
      ? propagation.extract(ROOT_CONTEXT, carrier as Carrier)
      : context.active();
  const tenantId = typeof fields.tenantId === 'string' ? fields.tenantId : undefined;
  const attributes = {
    'job.queue': queue,
    'job.attempt': attempt,
    ...(tenantId ? { [TENANT_ID]: tenantId } : {}),
  };
  const traced = () => withSpan(`job ${queue}`, attributes, run, { kind: SpanKind.CONSUMER });
  return context.with(parent, tenantId ? () => withTenant({ id: tenantId }, traced) : traced);
}

/** `migrate <database>`: one database of a fleet migration, with its tenant when it is a dedicated one. */
export function traceMigrationTarget<T>(database: DatabaseRecord, migrate: () => Promise<T>): Promise<T> {
  if (!tracingOn()) return migrate();
  const tenantId = databaseTenant(database);
  const traced = () =>
    withSpan(
      `migrate ${database.databaseName}`,
      {
        'db.system': 'postgresql',
        'db.name': database.databaseName,
        'tenantplane.database.id': database.id,
      },
      migrate,
    );
  return tenantId ? withTenant({ id: tenantId }, traced) : traced();
}
