import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import express from 'express';
import type { Knex } from 'knex';
import pg from 'pg';
import { connectControlDatabase } from '../src/catalog/control-database.js';
import {
  CONNECTION_LOST,
  ConnectionLostError,
  databaseUnavailableError,
  MigrationFailedError,
  SQLSTATE,
} from '../src/errors/index.js';
import { errorHandler } from '../src/http/error-handler.js';
import { listen } from '../src/http/listen.js';
import { createLogger } from '../src/logging/logger.js';
import { LossReportingClient } from '../src/postgres/connection-loss.js';
import { rejection } from './support/async-helpers.js';
import { freePort } from './support/free-port.js';
import { callJson } from './support/http-client.js';
import { logSink } from './support/log-sink.js';
import { adminQuery, adminUrlFor } from './support/test-plane.js';

/**
 * A client on the test PostgreSQL (or `url`), made as tenantplane makes its connections (so that a lost
 * connection fails with a code), whose 'error' events the test does not care about.
 */
async function connected(url = adminUrlFor('postgres'), connectionTimeoutMillis = 3000): Promise<pg.Client> {
  const client = new LossReportingClient({ connectionString: url, connectionTimeoutMillis });
  client.on('error', () => {});
  await client.connect();
  return client;
}

describe('HTTP answers to a database that went away', () => {
  const { lines: logLines, stream: sink } = logSink();
  let server: Server;
  let base: string;
  /** What the one route of the app throws. */
  let failure: () => Promise<unknown>;
  const limitedRole = `tp_limited_${randomBytes(4).toString('hex')}`;
  const limitedPassword = randomBytes(12).toString('hex');
  let limitedUrl: string;
  const knexes: Knex[] = [];

  before(async () => {
    const app = express();
    app.get('/fail', async (_req, _res, next) => {
      try {
        await failure();
        next(new Error('the route was meant to fail'));
      } catch (error) {
        next(error);
      }
    });
    app.use(errorHandler(createLogger('warn', sink)));
    server = await listen(createServer(app), 0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // A role that may hold no session at all: every login is refused with 53300, like a full server.
    await adminQuery(
      'postgres',
      `CREATE ROLE ${limitedRole} LOGIN CONNECTION LIMIT 0 PASSWORD '${limitedPassword}'`,
    );
    const url = new URL(adminUrlFor('postgres'));
    url.username = limitedRole;
    url.password = limitedPassword;
    limitedUrl = url.toString();
  });

  after(async () => {
    for (const knex of knexes) await knex.destroy();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await adminQuery('postgres', `DROP ROLE IF EXISTS ${limitedRole}`);
  });

  /** The app's answer when its route throws what `cause` rejects with. */
  async function answerTo(cause: () => Promise<unknown>) {
    const error = await rejection(cause());
    failure = () => Promise.reject(error);
    const answer = await callJson(base, undefined, 'GET', '/fail');
    return {
      status: answer.status,
      code: answer.body?.error?.code as string | undefined,
      retryAfter: answer.headers.get('retry-after'),
    };
  }

  function controlKnex(url: string): Knex {
    const knex = connectControlDatabase(url, 2);
    knexes.push(knex);
    return knex;
  }

  it('answers 503 database_unavailable, with Retry-After, for a session terminated mid-statement (57P01)', async () => {
    const client = await connected();
    let terminated: unknown;
    try {
      terminated = await rejection(client.query('SELECT pg_terminate_backend(pg_backend_pid())'));
    } finally {
      await client.end().catch(() => {});
    }
    expect(await answerTo(() => Promise.reject(terminated))).to.deep.equal({
      status: 503,
      code: 'database_unavailable',
      retryAfter: '1',
    });
    // The original error is kept as the cause, and logged with it.
    expect(logLines.at(-1)).to.include('terminating connection due to administrator command');
    // Also when one of tenantplane's own 500s wraps it: a migration (of a tenant being created) lost its session.
    const migration = new MigrationFailedError('0002_example', ['0001_example'], terminated);
    expect(await answerTo(() => Promise.reject(migration))).to.deep.equal({
      status: 503,
      code: 'database_unavailable',
      retryAfter: '1',
    });
    expect(
      await answerTo(() => Promise.reject(new MigrationFailedError('0002_example', [], new Error('syntax')))),
    ).to.deep.equal({ status: 500, code: 'migration_failed', retryAfter: null });
  });

  it('answers 503 database_unavailable for a refused connection and for a connection cut without a code', async () => {
    const closedPort = await freePort();
    expect(
      await answerTo(() => connected(`postgres://postgres@127.0.0.1:${closedPort}/postgres`)),
    ).to.deep.equal({ status: 503, code: 'database_unavailable', retryAfter: '1' });

    // A server that accepts and hangs up: pg's "Connection terminated unexpectedly" carries no code.
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hangUp.address() as { port: number }).port;
      const error = await rejection(connected(`postgres://postgres@127.0.0.1:${port}/postgres`));
      expect(error).to.be.instanceOf(ConnectionLostError);
      expect((error.cause as Error).message).to.equal('Connection terminated unexpectedly');
      expect(await answerTo(() => Promise.reject(error))).to.deep.equal({
        status: 503,
        code: 'database_unavailable',
        retryAfter: '1',
      });
    } finally {
      hangUp.close();
    }

    // Class 08 (connection_exception) as a whole, e.g. 08006 connection_failure.
    const lost = Object.assign(new pg.DatabaseError('connection failure', 0, 'error'), { code: '08006' });
    expect(await answerTo(() => Promise.reject(lost))).to.deep.equal({
      status: 503,
      code: 'database_unavailable',
      retryAfter: '1',
    });
  });

  it('answers 503 database_unavailable for a server that accepts and never answers (pg: "timeout expired")', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const error = await rejection(connected(`postgres://postgres@127.0.0.1:${port}/postgres`, 200));
      expect(error).to.be.instanceOf(ConnectionLostError);
      expect((error.cause as Error).message).to.equal('timeout expired');
      expect(await answerTo(() => Promise.reject(error))).to.deep.equal({
        status: 503,
        code: 'database_unavailable',
        retryAfter: '1',
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('decides a lost connection by what happened to the connection, not by what a message says', async () => {
    // Errors that merely say so, as pg and knex word a lost connection, on no lost connection: 500.
    for (const message of [
      'Connection terminated unexpectedly',
      'SELECT 1 - Connection terminated unexpectedly',
      'timeout expired',
      'Client has encountered a connection error and is not queryable',
    ]) {
      expect(databaseUnavailableError(new Error(message)), message).to.equal(undefined);
      expect(await answerTo(() => Promise.reject(new Error(message))), message).to.deep.equal({
        status: 500,
        code: 'internal_error',
        retryAfter: null,
      });
    }
    const client = await connected();
    try {
      // A healthy session that raises the words: the statement's error, kept as it is.
      const raised = await rejection(
        client.query(`DO $$ BEGIN RAISE EXCEPTION 'Connection terminated unexpectedly'; END $$`),
      );
      expect(raised).not.to.be.instanceOf(ConnectionLostError);
      expect(await answerTo(() => Promise.reject(raised))).to.deep.equal({
        status: 500,
        code: 'internal_error',
        retryAfter: null,
      });
      expect((await client.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);

      // The same session really terminated (pg_terminate_backend from another session while it is idle):
      // its next statement fails with pg's codeless error, reported as a lost connection by code.
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await adminQuery('postgres', 'SELECT pg_terminate_backend($1)', [pid]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const lost = await rejection(client.query('SELECT 1'));
      expect(lost).to.be.instanceOf(ConnectionLostError);
      expect((lost as ConnectionLostError).code).to.equal(CONNECTION_LOST);
      expect(lost.cause).to.be.instanceOf(Error).and.not.have.property('code');
      expect(await answerTo(() => Promise.reject(lost))).to.deep.equal({
        status: 503,
        code: 'database_unavailable',
        retryAfter: '1',
      });
      // The same through a callback, as knex calls pg.
      const viaCallback = await new Promise<Error>((resolve) =>
        client.query('SELECT 1', (error) => resolve(error!)),
      );
      expect(viaCallback).to.be.instanceOf(ConnectionLostError);
    } finally {
      await client.end().catch(() => {});
    }

    // A statement issued after this process ended its client is a bug, not a lost connection.
    const ended = await connected();
    await ended.end();
    const afterEnd = await rejection(ended.query('SELECT 1'));
    expect(afterEnd).not.to.be.instanceOf(ConnectionLostError);
    expect(databaseUnavailableError(afterEnd)).to.equal(undefined);
  });

  it('answers 503 database_busy for a server with no free connection slot (53300)', async () => {
    const error = await rejection(connected(limitedUrl));
    expect((error as { code?: string }).code).to.equal(SQLSTATE.tooManyConnections);
    expect(await answerTo(() => Promise.reject(error))).to.deep.equal({
      status: 503,
      code: 'database_busy',
      retryAfter: '1',
    });
  });

  it('answers catalog_unavailable / catalog_busy when the control database is what went away, and drops that connection', async () => {
    const knex = controlKnex(adminUrlFor('postgres'));
    expect(await answerTo(() => knex.raw('SELECT pg_terminate_backend(pg_backend_pid())'))).to.deep.equal({
      status: 503,
      code: 'catalog_unavailable',
      retryAfter: '1',
    });
    // The same in a transaction.
    expect(
      await answerTo(() =>
        knex.transaction((trx) => trx.raw('SELECT pg_terminate_backend(pg_backend_pid())')),
      ),
    ).to.deep.equal({ status: 503, code: 'catalog_unavailable', retryAfter: '1' });
    // A transaction's connection terminated (from another session) between two of its statements: the next
    // one fails without a SQLSTATE, as a lost connection of the control database.
    const lostInTransaction = await rejection(
      knex.transaction(async (trx) => {
        const pid = (await trx.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        await adminQuery('postgres', 'SELECT pg_terminate_backend($1)', [pid]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        await trx.raw('SELECT 1');
      }),
    );
    expect(lostInTransaction, String(lostInTransaction)).to.be.instanceOf(ConnectionLostError);
    expect(await answerTo(() => Promise.reject(lostInTransaction))).to.deep.equal({
      status: 503,
      code: 'catalog_unavailable',
      retryAfter: '1',
    });
    // The dead connections were discarded: the next statements get live ones.
    for (let i = 0; i < 3; i++) {
      expect((await knex.raw('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    }

    const closedPort = await freePort();
    const unreachable = controlKnex(`postgres://postgres@127.0.0.1:${closedPort}/postgres`);
    expect(await answerTo(() => unreachable.raw('SELECT 1'))).to.deep.equal({
      status: 503,
      code: 'catalog_unavailable',
      retryAfter: '1',
    });
    expect(await answerTo(() => controlKnex(limitedUrl).raw('SELECT 1'))).to.deep.equal({
      status: 503,
      code: 'catalog_busy',
      retryAfter: '1',
    });
  });

  it('still answers 500 for a statement that failed on a healthy connection', async () => {
    const client = await connected();
    try {
      expect(await answerTo(() => client.query('SELEC 1'))).to.deep.equal({
        status: 500,
        code: 'internal_error',
        retryAfter: null,
      });
      expect(await answerTo(() => client.query('SELECT 1 / 0'))).to.deep.equal({
        status: 500,
        code: 'internal_error',
        retryAfter: null,
      });
    } finally {
      await client.end();
    }
    expect(await answerTo(() => Promise.reject(new TypeError('a bug')))).to.deep.equal({
      status: 500,
      code: 'internal_error',
      retryAfter: null,
    });
  });
});
