import { context, type Span, SpanKind, trace } from '@opentelemetry/api';
import pg from 'pg';
import { endWithError, tenantAttributes, tracer } from './spans.js';

type Callback = (error: Error | null, result?: unknown) => void;
type Query = (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * A span for each statement any pg client runs inside traced work (a request, a job, a fleet migration),
 * whoever issues it: the router's tenant connections, the catalog, the jobs' admin connections. Statements
 * outside any span (the catalog's change channel, instance leases, pool housekeeping) are not traced: they
 * would each be a trace of their own, every second, on every instance.
 *
 * The span carries `db.system`, `db.name` (the client's database), the statement's operation (its first
 * keyword) and the active tenant's attributes; never the statement's text or parameters, which may hold
 * a tenant's data or, for a role's PASSWORD, a secret.
 *
 * pg has no hook for this, so its Client.prototype.query is wrapped while tracing runs; the returned
 * function puts the original back.
 */
export function tracePostgresStatements(): () => void {
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  prototype.query = function tracedQuery(this: pg.Client, config, values, callback) {
    const parent = context.active();
    if (config == null || trace.getSpan(parent) === undefined)
      return original.call(this, config, values, callback);
    const text = typeof config === 'string' ? config : (config as { text?: unknown }).text;
    const operation = operationOf(text);
    const span = tracer.startSpan(
      `${operation} ${this.database ?? ''}`.trim(),
      {
        kind: SpanKind.CLIENT,
        attributes: {
          ...tenantAttributes(parent),
          'db.system': 'postgresql',
          'db.name': this.database ?? '',
          'db.operation.name': operation,
        },
      },
      parent,
    );
    const submittable = typeof (config as { submit?: unknown }).submit === 'function';
    if (submittable) return traceSubmittable.call(this, original, span, config, values, callback);
    if (typeof values === 'function') return original.call(this, config, ending(span, values as Callback));
    if (typeof callback === 'function')
      return original.call(this, config, values, ending(span, callback as Callback));
    const result = original.call(this, config, values) as Promise<unknown>;
    result.then(
      () => span.end(),
      (error: unknown) => endWithError(span, error),
    );
    return result;
  };
  return () => {
    prototype.query = original;
  };
}

/**
 * A query object (pg's Query subclasses, COPY streams): its own callback if it has one, else the stream's
 * end or error, ends the span.
 */
function traceSubmittable(
  this: pg.Client,
  original: Query,
  span: Span,
  config: unknown,
  values: unknown,
  callback: unknown,
): unknown {
  const query = config as {
    callback?: unknown;
    once?: (event: string, listener: (error?: Error) => void) => void;
  };
  const given = query.callback ?? (typeof values === 'function' ? values : callback);
  if (typeof given === 'function') {
    query.callback = ending(span, given as Callback);
    return original.call(this, config);
  }
  if (typeof query.once === 'function') {
    let ended = false;
    const end = (error?: Error) => {
      if (ended) return;
      ended = true;
      if (error) endWithError(span, error);
      else span.end();
    };
    query.once('error', end);
    for (const event of ['end', 'finish', 'close']) query.once(event, () => end());
  }
  return original.call(this, config, values, callback);
}

/** The callback, ending the span first, run in the context the statement was issued in. */
function ending(span: Span, callback: Callback): Callback {
  return context.bind(context.active(), (error: Error | null, result?: unknown) => {
    if (error) endWithError(span, error);
    else span.end();
    callback(error, result);
  });
}

/** The statement's first keyword (SELECT, INSERT, COPY, ...), which says what it does without its data. */
function operationOf(text: unknown): string {
  if (typeof text !== 'string') return 'QUERY';
  const match = /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*([A-Za-z]+)/.exec(text);
  return match ? match[1]!.toUpperCase() : 'QUERY';
}
