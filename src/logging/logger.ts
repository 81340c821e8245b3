import pino, { type DestinationStream, type Logger } from 'pino';
import { traceLogFields } from '../tracing/log-fields.js';
import { currentContext } from './request-context.js';

export type { Logger };

/**
 * Paths that may hold secrets anywhere in a logged object. Connection URLs are never logged whole
 * (see `redactUrl`), this is the second line of defence.
 */
const REDACT_PATHS = [
  'password',
  '*.password',
  'url',
  '*.url',
  'adminUrl',
  '*.adminUrl',
  'connectionString',
  '*.connectionString',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'token',
  '*.token',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Every line written inside a request carries its request id and tenant; inside a trace, its ids.
      mixin() {
        const context = currentContext();
        return traceLogFields(context ? { requestId: context.requestId, tenantId: context.tenantId } : {});
      },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

/** A PostgreSQL URL with its password removed, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
