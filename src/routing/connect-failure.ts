import { databaseUnavailableError, UnavailableError } from '../errors/index.js';

export interface ConnectFailure {
  /** Refuse new connections to the server for a while instead of trying each request. */
  serverDown: boolean;
  error: Error;
}

/**
 * What a failed connect means for the server and for the request that waited for it: a server that is
 * down, starting up or unreachable is marked down; one at max_connections (53300, `database_busy`) is up
 * and only refused this connection; anything else (a wrong password, a missing database) is the error.
 */
export function connectFailure(serverId: string, error: unknown, downMs: number): ConnectFailure {
  const unavailable = databaseUnavailableError(error);
  if (unavailable?.code === 'database_busy') {
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
  if (unavailable) {
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
