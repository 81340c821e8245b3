import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type pg from 'pg';
import { databaseUnavailableError, MigrationFailedError } from '../src/errors/index.js';
import { createLogger } from '../src/logging/logger.js';
import { migrateDatabase } from '../src/migrations/database-migrator.js';
import { lockTenantMove } from '../src/moves/move-lock.js';
import { withAdminClient } from '../src/provisioning/admin-connection.js';
import { rejection } from './support/async-helpers.js';
import { logSink } from './support/log-sink.js';
import { adminQuery, adminUrlFor } from './support/test-plane.js';

/** Terminates one session from another connection, while its own client sits idle. */
async function terminate(pid: number): Promise<void> {
  const result = await adminQuery<{ done: boolean }>('postgres', 'SELECT pg_terminate_backend($1) AS done', [
    pid,
  ]);
  expect(result.rows[0]!.done).to.equal(true);
  // pg hears of it on the next turn of the event loop at the earliest: give it time to emit 'error'.
  await sleep(100);
}

async function backendPid(client: pg.ClientBase): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

describe('connections of provisioning, migrations and moves when their session is terminated', () => {
  // An unhandled 'error' event on any of these clients would end this process, failing the test run.

  it('fails the admin work with a 503-class error, and the process stays up', async () => {
    const failure = await rejection(
      withAdminClient(adminUrlFor('postgres'), async (client) => {
        await terminate(await backendPid(client));
        await client.query('SELECT 1');
      }),
    );
    expect(databaseUnavailableError(failure)?.code, String(failure)).to.equal('database_unavailable');
  });

  it('fails the migration, and the process stays up', async () => {
    const database = `tp_faults_${randomBytes(4).toString('hex')}`;
    await adminQuery('postgres', `CREATE DATABASE ${database}`);
    try {
      const failure = await rejection(
        migrateDatabase({
          connectionString: adminUrlFor(database),
          ledger: { schema: 'faults', table: 'ledger' },
          migrations: [
            {
              name: '0001_lose_session',
              transactional: false,
              down: undefined,
              async up({ client }) {
                await terminate(await backendPid(client));
              },
            },
          ],
        }),
      );
      expect(failure).to.be.instanceOf(MigrationFailedError);
      expect(databaseUnavailableError(failure)?.code, String(failure)).to.equal('database_unavailable');
    } finally {
      await adminQuery('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });

  it('logs the loss of the move lock, and the process stays up', async () => {
    const tenantId = `lock-${randomBytes(4).toString('hex')}`;
    const { lines, stream } = logSink();
    const lock = await lockTenantMove(adminUrlFor('postgres'), tenantId, {
      logger: createLogger('warn', stream),
    });
    try {
      const holder = await adminQuery<{ pid: number }>(
        'postgres',
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND classid = hashtext('tenantplane.move')::oid AND objid = hashtext($1)::oid`,
        [tenantId],
      );
      expect(holder.rows).to.have.length(1);
      await terminate(holder.rows[0]!.pid);
      const deadline = Date.now() + 2000;
      while (!lines.some((line) => line.includes('lost the move lock')) && Date.now() < deadline) {
        await sleep(20);
      }
      const logged = lines.find((line) => line.includes('lost the move lock'));
      expect(logged, 'the loss is logged').to.be.a('string');
      expect(JSON.parse(logged!)).to.include({ level: 50, tenant: tenantId });
    } finally {
      await lock.release();
    }
  });
});
