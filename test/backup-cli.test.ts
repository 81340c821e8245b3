import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type { Tenantplane } from '../src/tenantplane.js';
import { seedTenantRows, tenantQuery, tenantRows } from './support/tenant-rows.js';
import { runTenantctl } from './support/tenantctl.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('tenantctl export, backup, backups and restore', function () {
  this.timeout(120000);
  let plane: TestPlane<Tenantplane>;

  const tenantctl = (...args: string[]) =>
    runTenantctl(plane.cliEnv({ REDIS_URL: '', LOG_LEVEL: 'warn' }), ...args);

  before(async () => {
    plane = await createTestPlane({ serveTraffic: false });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-c', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'clico', tier: 'starter' }, TEST_ACTOR);
    await seedTenantRows(plane.tp, 'clico', 25);
  });
  after(async () => plane.close());

  it('backs up, lists, verifies and restores, with progress on stderr', async () => {
    const before = await tenantRows(plane.tp, 'clico');
    const backup = await tenantctl('backup', 'clico', '--json');
    expect(backup.code, backup.stderr).to.equal(0);
    const made = JSON.parse(backup.stdout) as { id: string; state: string };
    expect(made.state).to.equal('complete');
    expect(backup.stderr).to.match(/queued job backup\.clico\./);

    const list = await tenantctl('backups', 'list', 'clico', '--json');
    expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((row) => row.id)).to.deep.equal([made.id]);
    const verify = await tenantctl('backups', 'verify', 'clico', made.id, '--json');
    expect(verify.code).to.equal(0);
    expect((JSON.parse(verify.stdout) as { tables: Record<string, number> }).tables.users).to.equal(25);

    await tenantQuery(plane.tp, 'clico', "DELETE FROM deployments WHERE tenant_id = 'clico'");
    const restore = await tenantctl('restore', 'clico', '--backup', made.id, '--json');
    expect(restore.code, restore.stderr).to.equal(0);
    expect(await tenantRows(plane.tp, 'clico')).to.deep.equal(before);

    // A damaged object: verify exits 1 naming the code, and restore changes nothing.
    const file = path.join(plane.dataDir, 'backups', 'backups', 'clico', `${made.id}.tpbk`);
    const bytes = await readFile(file);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
    await writeFile(file, bytes);
    const damaged = await tenantctl('backups', 'verify', 'clico', made.id, '--json');
    expect(damaged.code).to.equal(1);
    expect((JSON.parse(damaged.stdout) as { error: { code: string } }).error.code).to.equal('backup_corrupt');
    await tenantQuery(plane.tp, 'clico', "DELETE FROM users WHERE tenant_id = 'clico'");
    const after = await tenantRows(plane.tp, 'clico');
    expect((await tenantctl('restore', 'clico', '--backup', made.id)).code).to.equal(1);
    expect(await tenantRows(plane.tp, 'clico')).to.deep.equal(after);
  });

  it('exports to --to and refuses bad input with exit 2', async () => {
    const target = path.join(plane.dataDir, 'elsewhere');
    const exported = await tenantctl('export', 'clico', '--to', `file://${target}`, '--json');
    expect(exported.code, exported.stderr).to.equal(0);
    const result = JSON.parse(exported.stdout) as { manifest_key: string };
    const manifest = JSON.parse(await readFile(path.join(target, result.manifest_key), 'utf8')) as {
      tenantId: string;
    };
    expect(manifest.tenantId).to.equal('clico');
    expect((await tenantctl('backup', 'Not_A_Slug')).code).to.equal(2);
    expect((await tenantctl('restore', 'clico', '--backup', '../etc')).code).to.equal(2);
    expect((await tenantctl('restore', 'clico', '--backup', 'abc', '--into', 'new-one')).code).to.equal(2);
    expect((await tenantctl('export', 'clico', '--to', 'ftp://x/y')).code).to.equal(2);
  });
});
