import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Tenantplane } from '../src/tenantplane.js';
import { startTenantctl } from './support/child-service.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

/** `tenantctl serve` with NODE_ENV=production: what it refuses and what it warns about at start. */
describe('serve in production', function () {
  this.timeout(60000);
  let plane: TestPlane<Tenantplane>;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    plane = await createTestPlane({ serveTraffic: false });
    const {
      REDIS_URL: _redis,
      JOBS: _jobs,
      METRICS_TOKEN: _token,
      ...inherited
    } = plane.cliEnv({
      NODE_ENV: 'production',
      // Nothing is fetched from the identity provider or KMS until a request or a backup needs it.
      AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
      AUTH_ISSUER: 'https://idp.example.test/',
      AUTH_AUDIENCE: 'tenantplane',
      CATALOG_SECRET_KEY: randomBytes(32).toString('base64'),
      BACKUP_URL: `file://${plane.dataDir}/backups`,
      KMS_KEY_ID: 'alias/tenantplane',
      AWS_REGION: 'us-east-1',
      PORT: '0',
      NODE_NO_WARNINGS: '1',
    });
    env = inherited;
  });
  after(async () => plane.close());

  it('refuses to start without REDIS_URL, naming it and JOBS=inline', async () => {
    // A serve that starts anyway is killed after a while instead of holding the test.
    const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'serve'],
        { env, timeout: 15000 },
        (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('REDIS_URL').and.include('JOBS=inline');
  });

  it('starts with JOBS=inline, warning once that an open /metrics exposes tenant ids', async () => {
    const service = await startTenantctl(['serve'], { ...env, JOBS: 'inline' }, 'tenantplane listening');
    try {
      const warnings = service
        .stderr()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.level === 40);
      expect(warnings.map((line) => line.msg)).to.have.length(1);
      expect(warnings[0]!.msg).to.include('METRICS_TOKEN').and.include('tenant ids');
      // The warning is about a real exposure: the endpoint answers without a token.
      expect((await fetch(`${service.base}/metrics`)).status).to.equal(200);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  });

  it('does not warn when METRICS_TOKEN is set', async () => {
    const service = await startTenantctl(
      ['serve'],
      { ...env, JOBS: 'inline', METRICS_TOKEN: 'scrape-secret' },
      'tenantplane listening',
    );
    try {
      expect(service.stderr()).to.not.include('"level":40');
      expect((await fetch(`${service.base}/metrics`)).status).to.equal(401);
      // With AUTH_* there is no development issuer, so no JWKS of its own (the OpenAPI document's 404).
      expect((await fetch(`${service.base}/.well-known/jwks.json`)).status).to.equal(404);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  });
});
