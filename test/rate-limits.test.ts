import { type ChildProcess, spawn } from 'node:child_process';
import type { Server } from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { TenantRateLimiter } from '../src/limits/tenant-rate-limiter.js';
import { createLogger } from '../src/logging/logger.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { freePort } from './support/free-port.js';
import { callJson } from './support/http-client.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The plane's rate limiter: these tests run with rate limits on. */
function limiterOf(tp: ServingTenantplane): TenantRateLimiter {
  if (!tp.rateLimiter) throw new Error('rate limits are off (RATE_LIMITS=off)');
  return tp.rateLimiter;
}

describe('rate limits', function () {
  this.timeout(60000);

  describe('shared through Redis by two instances', () => {
    let plane: TestPlane;
    let baseA: string;
    let baseB: string;
    let serverB: Server | undefined;
    let other: ServingTenantplane;
    const tokens: Record<string, string> = {};

    before(async () => {
      plane = await createTestPlane({}, { REDIS_URL: TEST_REDIS_URL });
      await plane.addServer();
      await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'tight', tier: 'starter' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'roomy', tier: 'pro' }, TEST_ACTOR);
      baseA = await plane.listen();
      other = await plane.openAnother();
      serverB = await other.listen(0, '127.0.0.1');
      baseB = `http://127.0.0.1:${(serverB.address() as net.AddressInfo).port}`;
      for (const tenant of ['tight', 'roomy']) tokens[tenant] = await plane.mint({ tenantId: tenant });
      tokens.admin = await plane.mint({ admin: true });
      await until(() => limiterOf(plane.tp).mode === 'redis', 'the rate limiter to reach Redis');
      await until(() => limiterOf(other).mode === 'redis', 'the second rate limiter to reach Redis');
    });
    after(async () => {
      serverB?.closeAllConnections();
      await new Promise((resolve) => serverB?.close(resolve) ?? resolve(undefined));
      await plane.close();
    });

    it('counts one window across both instances, with headers on every answer, then 429', async () => {
      const patched = await callJson(baseA, tokens.admin, 'PATCH', '/admin/v1/tenants/tight', {
        requests_per_minute: 5,
      });
      expect(patched.status).to.equal(200);
      expect(patched.body.limits.requests_per_minute).to.equal(5);

      const remaining: string[] = [];
      for (let index = 0; index < 5; index++) {
        const answer = await callJson(index % 2 ? baseB : baseA, tokens.tight, 'GET', '/api/v1/deployments');
        expect(answer.status).to.equal(200);
        expect(answer.headers.get('x-ratelimit-limit')).to.equal('5');
        remaining.push(answer.headers.get('x-ratelimit-remaining')!);
        const reset = Number(answer.headers.get('x-ratelimit-reset'));
        expect(reset).to.be.within(Math.floor(Date.now() / 1000), Math.ceil(Date.now() / 1000) + 60);
      }
      expect(remaining).to.deep.equal(['4', '3', '2', '1', '0']);

      for (const base of [baseA, baseB]) {
        const refused = await callJson(base, tokens.tight, 'GET', '/api/v1/deployments');
        expect(refused.status).to.equal(429);
        expect(refused.body.error.code).to.equal('rate_limited');
        expect(refused.headers.get('x-ratelimit-remaining')).to.equal('0');
        expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 60);
      }
      // Another tenant has its own window and its tier's limit.
      const roomy = await callJson(baseB, tokens.roomy, 'GET', '/api/v1/deployments');
      expect(roomy.status).to.equal(200);
      expect(roomy.headers.get('x-ratelimit-limit')).to.equal('3000');
    });

    it('applies a raised or cleared override on every instance at once', async () => {
      const raised = await callJson(baseA, tokens.admin, 'PATCH', '/admin/v1/tenants/tight', {
        requests_per_minute: 100,
      });
      expect(raised.status).to.equal(200);
      // The change reaches the other instance through the catalog's NOTIFY.
      await until(async () => {
        const answer = await callJson(baseB, tokens.tight, 'GET', '/api/v1/deployments');
        return answer.status === 200 && answer.headers.get('x-ratelimit-limit') === '100';
      }, 'instance B to see the new limit');

      const cleared = await callJson(baseA, tokens.admin, 'PATCH', '/admin/v1/tenants/tight', {
        requests_per_minute: null,
      });
      expect(cleared.body.limits.requests_per_minute).to.equal(600);
      const bad = await callJson(baseA, tokens.admin, 'PATCH', '/admin/v1/tenants/tight', {
        requests_per_minute: 0,
        name: 'never applied',
      });
      expect(bad.status).to.equal(400);
      expect((await plane.tp.catalog.requireTenant('tight')).name).to.equal('tight');
    });

    it('counts a concurrent burst exactly, each request in its own place, across instances', async () => {
      const burst = (limiter: TenantRateLimiter) =>
        Array.from({ length: 8 }, () => limiter.consume('burst', 10));
      const decisions = await Promise.all([...burst(limiterOf(plane.tp)), ...burst(limiterOf(other))]);
      const allowed = decisions.filter((decision) => decision.allowed);
      expect(allowed).to.have.length(10);
      expect(allowed.map((decision) => decision.remaining).sort((x, y) => x - y)).to.deep.equal([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
      for (const decision of decisions.filter((candidate) => !candidate.allowed)) {
        expect(decision.remaining).to.equal(0);
        expect(decision.resetMs).to.be.within(1, 60000);
      }
      // Spent: refused on both instances (from memory on one that saw the window fill, from Redis on the other).
      const after = await Promise.all([
        limiterOf(plane.tp).consume('burst', 10),
        limiterOf(other).consume('burst', 10),
        limiterOf(other).consume('burst', 10),
      ]);
      expect(after.map((decision) => decision.allowed)).to.deep.equal([false, false, false]);
    });

    it('reserves places ahead far from the limit, counted in Redis, and none near it', async () => {
      const limiterA = limiterOf(plane.tp);
      const limiterB = limiterOf(other);
      const remaining: number[] = [];
      for (let index = 0; index < 66; index++)
        remaining.push((await limiterA.consume('steady', 1600)).remaining);
      // Every request has its own place: 1599 down to 1534, no gap, no repeat.
      expect(remaining).to.deep.equal(Array.from({ length: 66 }, (_, index) => 1599 - index));
      const redis = new Redis(TEST_REDIS_URL);
      try {
        // The first request counted 1, the second 1 plus floor(1599 / 16) = 99 reserved: the 64 after it
        // came from the reserve and never reached Redis.
        expect(await redis.get(`tenantplane:rate:${plane.prefix}:steady`)).to.equal('101');
        expect((await limiterB.consume('steady', 1600)).remaining).to.equal(1600 - 102);
        // Far below a large limit the reserve stops at its cap of 1024 places.
        await limiterA.consume('wide', 100000);
        await limiterA.consume('wide', 100000);
        expect(await redis.get(`tenantplane:rate:${plane.prefix}:wide`)).to.equal(String(1 + 1 + 1024));
        // Requests arriving while a reserving increment is on its way wait for its places instead of
        // reserving again (which would drop the first reserve's unused places).
        await limiterA.consume('queued', 100000);
        const refilling = limiterA.consume('queued', 100000);
        // Runs right after the limiter's flush sent the increment, before Redis can have answered.
        await new Promise((resolve) => setImmediate(resolve));
        const waiting = Array.from({ length: 5 }, () => limiterA.consume('queued', 100000));
        const queued = await Promise.all([refilling, ...waiting]);
        expect(queued.map((decision) => decision.remaining)).to.deep.equal([
          99998, 99997, 99996, 99995, 99994, 99993,
        ]);
        expect(await redis.get(`tenantplane:rate:${plane.prefix}:queued`)).to.equal(String(1 + 1 + 1024));
      } finally {
        redis.disconnect();
      }

      // Near the limit, two instances taking turns never let more than the limit through.
      let allowed = 0;
      for (let index = 0; index < 60; index++) {
        const limiter = index % 2 === 0 ? limiterA : limiterB;
        if ((await limiter.consume('narrow', 40)).allowed) allowed += 1;
      }
      expect(allowed).to.be.within(36, 40);
    });

    it('reports shared counting in /ready', async () => {
      const ready = await callJson(baseA, undefined, 'GET', '/ready');
      expect(ready.status).to.equal(200);
      expect(ready.body).to.deep.include({ status: 'ready' });
      expect(ready.body.checks).to.include({ redis: 'ok', rate_limit: 'redis' });
    });
  });

  describe('without Redis', () => {
    let plane: TestPlane;
    let base: string;
    let token: string;

    before(async () => {
      // A port nothing listens on: Redis is configured but down from the start.
      plane = await createTestPlane({}, { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
      await plane.addServer();
      await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'alone', tier: 'starter' }, TEST_ACTOR);
      await plane.tp.catalog.updateTenant('alone', { requestsPerMinute: 3 });
      base = await plane.listen();
      token = await plane.mint({ tenantId: 'alone' });
    });
    after(async () => plane.close());

    it('serves requests with per-process limits and says so in /ready', async () => {
      expect(limiterOf(plane.tp).mode).to.equal('degraded_local');
      const statuses: number[] = [];
      for (let index = 0; index < 4; index++) {
        const answer = await callJson(base, token, 'GET', '/api/v1/deployments');
        statuses.push(answer.status);
        expect(answer.headers.get('x-ratelimit-limit')).to.equal('3');
      }
      expect(statuses).to.deep.equal([200, 200, 200, 429]);
      const ready = await callJson(base, undefined, 'GET', '/ready');
      expect(ready.status).to.equal(200);
      expect(ready.body.status).to.equal('degraded');
      expect(ready.body.checks).to.include({ redis: 'unreachable', rate_limit: 'degraded_local' });
    });
  });

  describe('Redis lost and back', () => {
    let redis: ChildProcess | undefined;
    let port: number;

    async function startRedis(): Promise<void> {
      redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      const url = `redis://127.0.0.1:${port}`;
      await until(
        () =>
          new Promise<boolean>((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            socket.once('connect', () => resolve(socket.end() !== undefined));
            socket.once('error', () => resolve(false));
          }),
        `redis-server at ${url}`,
      );
    }

    async function stopRedis(): Promise<void> {
      const child = redis;
      redis = undefined;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }

    after(stopRedis);

    it('falls back to local counting, logs once per change, and shares again when Redis returns', async () => {
      port = await freePort();
      await startRedis();
      const lines: Array<{ level: number; msg: string }> = [];
      const logger = createLogger('info', {
        write: (line: string) => {
          lines.push(JSON.parse(line));
          return true;
        },
      });
      const limiter = new TenantRateLimiter({
        redisUrl: `redis://127.0.0.1:${port}`,
        keyPrefix: `rl-test-${port}`,
        logger,
      });
      try {
        await until(() => limiter.mode === 'redis', 'the limiter to connect');
        expect((await limiter.consume('acme', 10)).remaining).to.equal(9);
        await stopRedis();
        await until(() => limiter.mode === 'degraded_local', 'the limiter to notice Redis is gone');
        // Every request is still answered, from the per-process count.
        for (let index = 0; index < 20; index++) {
          const decision = await limiter.consume('acme', 10);
          expect(decision.allowed).to.equal(index < 10);
        }
        await startRedis();
        await until(() => limiter.mode === 'redis', 'the limiter to reconnect');
        // A fresh Redis: the shared count starts again.
        expect((await limiter.consume('acme', 10)).remaining).to.equal(9);
        const warnings = lines.filter((line) => line.msg.startsWith('rate limits: Redis unreachable'));
        const recoveries = lines.filter((line) => line.msg.startsWith('rate limits: Redis reachable'));
        expect(warnings).to.have.length(1);
        expect(recoveries).to.have.length(1);
      } finally {
        await limiter.close();
      }
    });
  });
});
