import { expect } from 'chai';
import { type ChildService, request, startTenantctl } from './support/child-service.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** `tenantctl serve` as a child process on this plane's catalog, flushing usage every `flushMs`. */
function startServe(plane: TestPlane, flushMs: number): Promise<ChildService> {
  return startTenantctl(
    ['serve'],
    plane.cliEnv({ PORT: '0', USAGE_FLUSH_INTERVAL_MS: String(flushMs), LOG_LEVEL: 'debug' }),
    'tenantplane listening',
  );
}

describe('usage of a serving instance that stops', function () {
  this.timeout(120000);
  let plane: TestPlane;
  let killed: ChildService;
  let stopped: ChildService;
  const tokens: Record<string, string> = {};

  const recorded = async (tenant: string): Promise<number> => {
    const row = await plane.tp.knex('tenant_usage').where({ tenant_id: tenant }).sum('requests as n').first();
    return Number(row?.n ?? 0);
  };
  const listMany = async (service: ChildService, tenant: string, count: number) => {
    for (let index = 0; index < count; index += 1) {
      const answer = await request(service.base, 'GET', '/api/v1/deployments', tokens[tenant]);
      expect(answer.status, answer.body).to.equal(200);
    }
  };

  before(async () => {
    plane = await createTestPlane();
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of ['kill-co', 'term-co']) {
      await plane.tp.tenants.create({ id, tier: 'pro' }, TEST_ACTOR);
      tokens[id] = await plane.mint({ tenantId: id });
    }
    [killed, stopped] = await Promise.all([startServe(plane, 1000), startServe(plane, 3_600_000)]);
  });
  after(async () => {
    for (const service of [killed, stopped]) {
      if (service && service.child.exitCode === null && service.child.signalCode === null) {
        service.child.kill('SIGKILL');
        await service.exited;
      }
    }
    await plane?.close();
  });

  it('killed without warning, loses at most what it counted since its last flush', async () => {
    await listMany(killed, 'kill-co', 20);
    // A flush of the instance's own timer has written all 20: that is the flush point.
    while ((await recorded('kill-co')) < 20) await new Promise((resolve) => setTimeout(resolve, 100));
    await listMany(killed, 'kill-co', 15);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const kept = await recorded('kill-co');
    // Everything flushed before the kill is there; of the last 15 (answered within the last interval),
    // whatever the next flush had not taken yet is lost, and nothing is counted twice.
    expect(kept).to.be.within(20, 35);
    const flushes = [...killed.stderr().matchAll(/"flushedRequests":(\d+)[^\n]*"msg":"usage flushed"/g)];
    const lastLogged = Number(flushes.at(-1)?.[1]);
    expect(kept, 'what the instance reported flushed').to.be.at.least(lastLogged);
  });

  it('stopped with SIGTERM, flushes what it counted before it exits', async () => {
    await listMany(stopped, 'term-co', 12);
    // Its timer never fires in this test: only the shutdown writes.
    expect(await recorded('term-co')).to.equal(0);
    stopped.child.kill('SIGTERM');
    expect(await stopped.exited).to.equal(0);
    expect(await recorded('term-co')).to.equal(12);
  });
});
