import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { QuotaExceededError } from '../src/errors/index.js';
import { insertWithinQuota } from '../src/limits/quota-guard.js';
import { callJson } from './support/http-client.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/**
 * A team's own tenant schema, with none of the sample application's tables: notes and invoices, each row
 * carrying tenant_id, isolated by the same forced row-level security as tenant-migrations/0002.
 */
const OWN_SCHEMA = {
  '0001_notes_and_invoices.sql': `
CREATE TABLE notes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE invoices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text NOT NULL,
  number text NOT NULL,
  amount_cents bigint NOT NULL,
  issued_on date NOT NULL DEFAULT current_date,
  UNIQUE (tenant_id, number)
);
CREATE INDEX notes_tenant_idx ON notes (tenant_id, created_at DESC);
`,
  '0002_row_level_security.sql': `
CREATE FUNCTION tenantplane_current_tenant() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('tenantplane.tenant_id', true), '') $$;

ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notes
  USING (tenant_id = tenantplane_current_tenant())
  WITH CHECK (tenant_id = tenantplane_current_tenant());

ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoices
  USING (tenant_id = tenantplane_current_tenant())
  WITH CHECK (tenant_id = tenantplane_current_tenant());
`,
};

for (const admin of ADMIN_KINDS) {
  describe(`a tenant schema of its own, with a ${admin.name}`, function () {
    this.timeout(90000);
    let plane: TestPlane;
    let migrationsDir: string;
    let base: string;
    let adminToken: string;

    const call = (method: string, route: string, body?: unknown) =>
      callJson(base, adminToken, method, `/admin/v1${route}`, body);
    const job = async (jobId: unknown) => {
      for (let attempt = 0; attempt < 600; attempt += 1) {
        const answer = await call('GET', `/jobs/${jobId}`);
        if (answer.body.state === 'completed' || answer.body.state === 'failed') return answer.body;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`job ${jobId} did not finish`);
    };
    /** Runs one statement as the tenant, through the router, as the application would. */
    const asTenant = async (tenantId: string, text: string, values: unknown[] = []) =>
      (await plane.tp.router.forTenant(tenantId)).query(text, values);
    const notesOf = async (tenantId: string) =>
      (await asTenant(tenantId, 'SELECT tenant_id, body FROM notes ORDER BY body')).rows;

    before(async () => {
      migrationsDir = await mkdtemp(path.join(os.tmpdir(), 'own-tenant-schema-'));
      for (const [name, sql] of Object.entries(OWN_SCHEMA))
        await writeFile(path.join(migrationsDir, name), sql);
      plane = await createTestPlane({ tenantMigrationsDir: migrationsDir });
      await admin.register(plane);
      await plane.tp.shards.add({ id: 'shard-own', serverId: 'pg-main' }, TEST_ACTOR);
      base = await plane.listen();
      adminToken = await plane.mint({ admin: true });
    });
    after(async () => {
      await plane?.close();
      if (migrationsDir) await rm(migrationsDir, { recursive: true, force: true });
    });

    it('provisions shard and dedicated tenants with its schema', async () => {
      for (const [id, tier] of [
        ['alpha', 'starter'],
        ['beta', 'starter'],
        ['gamma', 'enterprise'],
      ] as const) {
        const created = await call('POST', '/tenants', { id, tier });
        expect(created.status, JSON.stringify(created.body)).to.equal(201);
        expect(created.body.status).to.equal('active');
      }
      const migrations = await call('GET', '/migrations');
      expect(migrations.status).to.equal(200);
      expect(JSON.stringify(migrations.body)).to.include('0002_row_level_security');
    });

    it('routes each tenant to its own rows only', async () => {
      for (const id of ['alpha', 'beta', 'gamma']) {
        for (const body of [`${id}-1`, `${id}-2`]) {
          await asTenant(id, 'INSERT INTO notes (tenant_id, body) VALUES ($1, $2)', [id, body]);
        }
        await asTenant(id, 'INSERT INTO invoices (tenant_id, number, amount_cents) VALUES ($1, $2, $3)', [
          id,
          `${id}-0001`,
          1250,
        ]);
      }
      expect(await notesOf('alpha')).to.deep.equal([
        { tenant_id: 'alpha', body: 'alpha-1' },
        { tenant_id: 'alpha', body: 'alpha-2' },
      ]);
      expect((await notesOf('beta')).map((row) => row.tenant_id)).to.deep.equal(['beta', 'beta']);
      expect((await notesOf('gamma')).map((row) => row.tenant_id)).to.deep.equal(['gamma', 'gamma']);
      // Row-level security refuses a row of another tenant even when the statement names it.
      const foreign = await asTenant('alpha', 'INSERT INTO notes (tenant_id, body) VALUES ($1, $2)', [
        'beta',
        'sneaky',
      ]).catch((error: Error) => error);
      expect(foreign).to.be.instanceOf(Error);
      expect((await notesOf('beta')).map((row) => row.body)).to.deep.equal(['beta-1', 'beta-2']);
    });

    it('answers the sample application’s routes with 404 not_in_schema', async () => {
      const token = await plane.mint({ tenantId: 'alpha' });
      for (const [method, route, body] of [
        ['POST', '/api/v1/deployments', { project_name: 'web', status: 'ready' }],
        ['GET', '/api/v1/workflows', undefined],
      ] as const) {
        const answer = await callJson(base, token, method, route, body);
        expect(answer.status, JSON.stringify(answer.body)).to.equal(404);
        expect(answer.body.error.code).to.equal('not_in_schema');
      }
    });

    it('reports usage without errors while the tiers still carry the sample application’s quotas', async () => {
      for (const id of ['alpha', 'gamma']) {
        const shown = await call('GET', `/tenants/${id}`);
        expect(shown.status, JSON.stringify(shown.body)).to.equal(200);
        expect(shown.body.usage).to.not.equal(null);
        expect(shown.body.usage.storage_bytes).to.be.above(0);
        // The sample's tables are absent: nothing of the tenant's is in them.
        expect(shown.body.usage).to.include({ deployments: 0, workflows: 0, users: 0 });
      }
    });

    it('counts and enforces quotas on its own tables', async () => {
      // The tiers' quotas become the schema's own, through the admin API.
      const starter = await call('PUT', '/tiers/starter/quotas', {
        quotas: [
          { name: 'notes', max: 3 },
          { name: 'storage_bytes', max: 1048576 },
        ],
      });
      expect(starter.status, JSON.stringify(starter.body)).to.equal(200);
      expect(starter.body.quotas).to.deep.equal([
        { name: 'notes', counts: 'rows:notes', max: 3 },
        { name: 'storage_bytes', counts: 'storage_bytes', max: 1048576 },
      ]);
      const enterprise = await call('PUT', '/tiers/enterprise/quotas', {
        quotas: [{ name: 'invoices', counts: 'rows:invoices', max: null }],
      });
      expect(enterprise.status, JSON.stringify(enterprise.body)).to.equal(200);
      const bad = await call('PUT', '/tiers/pro/quotas', {
        quotas: [{ name: 'notes', counts: 'rows:x;y', max: 1 }],
      });
      expect(bad.status).to.equal(400);
      expect(bad.body.error.code).to.equal('invalid_quota');
      expect((await call('PUT', '/tiers/gold/quotas', { quotas: [] })).status).to.equal(404);
      const tiers = await call('GET', '/tiers');
      expect(tiers.body.data.map((tier: { id: string }) => tier.id)).to.deep.equal([
        'starter',
        'pro',
        'enterprise',
      ]);
      expect(tiers.body.data[1].quotas.map((quota: { name: string }) => quota.name)).to.deep.equal([
        'deployments',
        'users',
        'workflows',
        'storage_bytes',
      ]);

      const alpha = await call('GET', '/tenants/alpha');
      expect(alpha.body.limits).to.deep.equal({ requests_per_minute: 600, notes: 3, storage_bytes: 1048576 });
      expect(alpha.body.usage).to.deep.equal({ notes: 2, storage_bytes: alpha.body.usage.storage_bytes });
      expect(alpha.body.usage.storage_bytes).to.be.above(0);
      const gamma = await call('GET', '/tenants/gamma');
      expect(gamma.body.limits).to.deep.equal({ requests_per_minute: 20000, invoices: null });
      expect(gamma.body.usage).to.include({ invoices: 1 });

      // The routers hear of the change and carry the new quotas with their routes.
      for (let attempt = 0; ; attempt += 1) {
        const limits = (await plane.tp.router.forTenant('alpha')).limits;
        if (limits.quotas.some((quota) => quota.name === 'notes')) break;
        if (attempt > 200) throw new Error(`the router kept the old quotas: ${JSON.stringify(limits)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const db = await plane.tp.router.forTenant('alpha');
      const insertNote = (body: string) =>
        insertWithinQuota(db, 'notes', {
          text: 'INSERT INTO notes (tenant_id, body) VALUES ($1, $2)',
          values: ['alpha', body],
        });
      await insertNote('alpha-3');
      const refused = await insertNote('alpha-4').catch((error: unknown) => error);
      expect(refused).to.be.instanceOf(QuotaExceededError);
      expect((refused as QuotaExceededError).details).to.deep.equal({ quota: 'notes', limit: 3, usage: 3 });
      // Invoices have no quota on the starter tier.
      await insertWithinQuota(db, 'invoices', {
        text: 'INSERT INTO invoices (tenant_id, number, amount_cents) VALUES ($1, $2, $3)',
        values: ['alpha', 'alpha-0002', 99],
      });
    });

    it('exports, backs up and restores in place', async () => {
      const exported = await call('POST', '/tenants/alpha/exports', {});
      expect(exported.status).to.equal(202);
      const exportJob = await job(exported.body.job_id);
      expect(exportJob.state, JSON.stringify(exportJob)).to.equal('completed');
      expect(exportJob.result.tables).to.deep.include.members([
        { name: 'invoices', rows: 2, key: exportJob.result.tables[0].key },
      ]);
      expect(exportJob.result.tables.map((table: { name: string }) => table.name)).to.deep.equal([
        'invoices',
        'notes',
      ]);

      for (const id of ['alpha', 'gamma']) {
        const backedUp = await call('POST', `/tenants/${id}/backups`, {});
        expect(backedUp.status).to.equal(202);
        const backupJob = await job(backedUp.body.job_id);
        expect(backupJob.state, JSON.stringify(backupJob)).to.equal('completed');
        const before = await notesOf(id);
        await asTenant(id, 'DELETE FROM notes');
        await asTenant(id, 'INSERT INTO notes (tenant_id, body) VALUES ($1, $2)', [id, 'after the backup']);
        const backups = await call('GET', `/tenants/${id}/backups`);
        const restored = await call('POST', `/tenants/${id}/restores`, {
          backup_id: backups.body.data[0].id,
        });
        expect(restored.status).to.equal(202);
        const restoreJob = await job(restored.body.job_id);
        expect(restoreJob.state, JSON.stringify(restoreJob)).to.equal('completed');
        expect(await notesOf(id)).to.deep.equal(before);
      }
      // The neighbour on the shard kept its rows.
      expect((await notesOf('beta')).map((row) => row.body)).to.deep.equal(['beta-1', 'beta-2']);
      const alpha = await call('GET', '/tenants/alpha');
      expect(alpha.body.usage).to.include({ notes: 3 });
    });

    it('moves a tenant from its shard to a database of its own with its rows', async () => {
      const before = await notesOf('beta');
      const moved = await call('PATCH', '/tenants/beta', { tier: 'enterprise' });
      expect(moved.status, JSON.stringify(moved.body)).to.equal(202);
      const moveJob = await job(moved.body.job_id);
      expect(moveJob.state, JSON.stringify(moveJob)).to.equal('completed');
      const beta = await call('GET', '/tenants/beta');
      expect(beta.body.placement.kind).to.equal('dedicated');
      expect(beta.body.usage).to.include({ invoices: 1 });
      for (let attempt = 0; ; attempt += 1) {
        const route = await plane.tp.router.forTenant('beta');
        if (route.placement === 'dedicated') break;
        if (attempt > 200) throw new Error('the router kept the shard route');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(await notesOf('beta')).to.deep.equal(before);
      expect((await notesOf('alpha')).map((row) => row.tenant_id)).to.satisfy((ids: string[]) =>
        ids.every((id) => id === 'alpha'),
      );
    });
  });
}
