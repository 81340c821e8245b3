import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentContext, type RequestContext } from '../logging/request-context.js';
import type { UsageMeter } from './usage-meter.js';

/**
 * Adds the time since `since` (performance.now() when a tenant connection was taken) to the running
 * request's database time. Called as the connection is released, so the time a request holds a
 * connection is what it is billed, whether it spent it in PostgreSQL or waiting between statements.
 */
export function chargeDatabaseTime(since: number): void {
  const context = currentContext();
  if (context) context.dbTimeMs = (context.dbTimeMs ?? 0) + (performance.now() - since);
}

/** A body's bytes as its Content-Length header says (0 without one). */
function declaredLength(value: string | number | string[] | undefined): number {
  const bytes = Number(value);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
}

/**
 * Counts a finished request for the tenant it was authenticated as (none: nothing to bill). Bytes are the
 * request's and the response's bodies by their Content-Length: every application API answer carries one.
 */
export function recordRequestUsage(
  meter: UsageMeter,
  req: IncomingMessage,
  res: ServerResponse,
  context: RequestContext,
): void {
  if (context.tenantId === undefined) return;
  meter.record(
    context.tenantId,
    res.statusCode,
    context.dbTimeMs ?? 0,
    declaredLength(req.headers['content-length']),
    declaredLength(res.getHeader('content-length')),
  );
}
