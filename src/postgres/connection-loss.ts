import pg from 'pg';
import { ConnectionLostError } from '../errors/index.js';

/**
 * A pg Client that reports the loss of its connection by code: a connect or statement that fails because
 * the connection died, timed out or was never made rejects with ConnectionLostError (code ECONNLOST, pg's
 * error as its cause), which databaseUnavailableError answers as a 503. pg's own errors for these
 * (`Connection terminated unexpectedly`, `Connection terminated`, `timeout expired`, `Client has
 * encountered a connection error and is not queryable`) carry no code, and only the client knows that they
 * came from a lost connection rather than from something that merely says so.
 *
 * The connection counts as lost once the client has emitted 'error' after connecting (pg does so only for
 * its connection: a socket error, the server closing the session, a FATAL outside a statement; the client
 * is unqueryable from then on) or once its socket is destroyed (closed by either side, or by pg's
 * connectionTimeoutMillis, which destroys it with `timeout expired`). Only errors without a code are
 * wrapped: a SQLSTATE (57P01) or a socket code (ECONNRESET) already says what happened. A statement issued
 * after this process ended the client (`Client was closed and is not queryable`) is a bug, not a loss, and
 * keeps pg's error; one in flight when the client is ended fails as lost, as it would were the server to
 * close it. The connections whose failures are answered as 503s are made with this class: the router's
 * pool, admin connections, migrations and the control database's knex (see connectControlDatabase).
 */
export class LossReportingClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    reportConnectionLoss(this);
  }
}

type NodeCallback = (error: unknown, ...rest: unknown[]) => unknown;
type SubmittableQuery = { submit: unknown; handleError: (error: unknown, ...rest: unknown[]) => unknown };

function reportConnectionLoss(client: pg.Client): void {
  let connectCalled = false;
  let connected = false;
  let failed = false;
  let ended = false;
  // Every tenantplane client has its own 'error' listener too, so this one changes nothing about whether an
  // 'error' ends the process. pg sets the flag before it fails the statements in flight (on a later tick).
  client.on('error', () => {
    if (connected) failed = true;
  });
  const lost = (): boolean => failed || socketOf(client)?.destroyed === true;
  const reported = (error: unknown): unknown =>
    error instanceof Error && (error as { code?: unknown }).code === undefined && lost()
      ? new ConnectionLostError(error)
      : error;

  const connect = client.connect.bind(client) as (callback?: NodeCallback) => Promise<unknown> | undefined;
  client.connect = ((callback?: NodeCallback) => {
    // A second connect is a bug pg refuses at once, whatever became of the first.
    if (connectCalled) return connect(callback);
    connectCalled = true;
    if (callback) {
      return connect((error, ...rest) => {
        if (!error) connected = true;
        return callback(error ? reported(error) : error, ...rest);
      });
    }
    return connect()!.then(
      (result) => {
        connected = true;
        return result;
      },
      (error: unknown) => {
        throw reported(error);
      },
    );
  }) as typeof client.connect;

  const end = client.end.bind(client) as (...args: unknown[]) => unknown;
  client.end = ((...args: unknown[]) => {
    ended = true;
    return end(...args);
  }) as typeof client.end;

  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    if (ended && !failed) return query(...args);
    const [config] = args;
    if (isSubmittable(config)) {
      // pg hands a Submittable (a COPY stream, a cursor) its errors through handleError.
      const handleError = config.handleError;
      config.handleError = function (this: unknown, error: unknown, ...rest: unknown[]) {
        return handleError.call(this, reported(error), ...rest);
      };
      return query(...args);
    }
    // query(text or config, values?, callback?): the callback, if any, is the first function after config.
    const at = args.findIndex((arg, index) => index > 0 && typeof arg === 'function');
    if (at > 0) {
      const callback = args[at] as NodeCallback;
      const wrapped = [...args];
      wrapped[at] = (error: unknown, ...rest: unknown[]) =>
        callback(error ? reported(error) : error, ...rest);
      return query(...wrapped);
    }
    const result = query(...args);
    return isPromise(result)
      ? result.catch((error: unknown) => {
          throw reported(error);
        })
      : result;
  }) as typeof client.query;
}

function isSubmittable(config: unknown): config is SubmittableQuery {
  return (
    typeof config === 'object' &&
    config !== null &&
    typeof (config as { submit?: unknown }).submit === 'function' &&
    typeof (config as { handleError?: unknown }).handleError === 'function'
  );
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** pg's socket of a client (its Connection is untyped in @types/pg); Node sets `destroyed` once it closed. */
function socketOf(client: pg.Client): { destroyed?: boolean } | undefined {
  return (client as unknown as { connection?: { stream?: { destroyed?: boolean } } }).connection?.stream;
}
