import { UnavailableError } from '../errors.js';

/** Socket errors and SQLSTATEs on connect that mean the server cannot take sessions now. */
const SERVER_DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down or in recovery
]);

/** SQLSTATE 53300: the server is at max_connections. It is up; this one connection was refused. */
const TOO_MANY_CONNECTIONS = '53300';

export interface ConnectFailure {
  /** Refuse new connections to the server for a while instead of trying each request. */
  serverDown: boolean;
  error: Error;
}

/** What a failed connect means for the server and for the request that waited for it. */
export function connectFailure(serverId: string, error: unknown, downMs: number): ConnectFailure {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === TOO_MANY_CONNECTIONS) {
    return {
      serverDown: false,
      error: new UnavailableError(
        `database server ${serverId} has no free connection slot`,
        'database_busy',
        {
          cause: error,
          retryAfterSeconds: 1,
        },
      ),
    };
  }
  const message = (error as Error | undefined)?.message ?? '';
  if (
    (typeof code === 'string' && SERVER_DOWN_CODES.has(code)) ||
    message.includes('Connection terminated') ||
    message.includes('timeout expired')
  ) {
    return {
      serverDown: true,
      error: new UnavailableError(`database server ${serverId} is unreachable`, 'database_unavailable', {
        cause: error,
        retryAfterSeconds: Math.max(1, Math.ceil(downMs / 1000)),
      }),
    };
  }
  return { serverDown: false, error: error instanceof Error ? error : new Error(String(error)) };
}
