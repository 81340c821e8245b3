import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../src/logging/logger.js';
import { currentContext, runWithContext } from '../src/logging/request-context.js';
import { TEST_POSTGRES_URL } from './setup/hooks.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('logging', () => {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  let plane: TestPlane;

  before(async () => {
    plane = await createTestPlane({ logger: createLogger('debug', sink) });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme', tier: 'pro' }, TEST_ACTOR);
  });
  after(async () => plane.close());

  it('puts the request id and tenant id on the lines written for a request', async () => {
    const base = await plane.listen();
    const token = await plane.mint({ tenantId: 'acme' });
    const response = await fetch(`${base}/api/v1/deployments`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-12345' },
    });
    expect(response.status).to.equal(200);
    expect(response.headers.get('x-request-id')).to.equal('req-12345');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = lines.find((entry) => entry.msg === 'request' && entry.requestId === 'req-12345');
    expect(line).to.include({ tenantId: 'acme', status: 200, path: '/api/v1/deployments' });
  });

  it('adds the context to any line logged inside it', () => {
    const context = { requestId: 'abc', tenantId: 'acme', started: performance.now(), mountPath: '' };
    runWithContext(context, () => {
      expect(currentContext()).to.equal(context);
      plane.tp.logger.info('inside');
    });
    expect(lines.find((entry) => entry.msg === 'inside')).to.include({ requestId: 'abc', tenantId: 'acme' });
  });

  it('never writes secrets or tokens to the log', async () => {
    const password = (await plane.tp.catalog.serverAppCredentials('pg-main')).password;
    plane.tp.logger.info({ url: TEST_POSTGRES_URL, token: 'secret-token', password: 'pw' }, 'with secrets');
    expect(raw).not.to.include(password);
    expect(raw).not.to.include('secret-token');
    expect(lines.find((entry) => entry.msg === 'with secrets')).to.include({
      url: '[redacted]',
      password: '[redacted]',
    });
  });
});
