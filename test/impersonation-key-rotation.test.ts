import { execFile } from 'node:child_process';
import http, { type Server } from 'node:http';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { decodeProtectedHeader } from 'jose';
import { IMPERSONATION_ISSUER } from '../src/auth/impersonation-issuer.js';
import { IMPERSONATION_KEY_RETENTION_SECONDS, ImpersonationKeyRing } from '../src/auth/impersonation-keys.js';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { connectControlDatabase } from '../src/catalog/control-database.js';
import { SecretBox } from '../src/catalog/secret-box.js';
import { TenantplaneError } from '../src/errors/index.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { rejection } from './support/async-helpers.js';
import { AUDIENCE, closer, fakeIdentityProvider, ISSUER, listen } from './support/identity-provider.js';
import { startPgProxy } from './support/pg-proxy.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

const run = promisify(execFile);

const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

/** Resolves once `check` holds, polling; fails after `ms` saying what it waited for. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The error code a verification fails with, or 'ok'. */
async function verdict(tp: ServingTenantplane, token: string): Promise<string> {
  try {
    await tp.verifier.verify(token);
    return 'ok';
  } catch (error) {
    if (error instanceof TenantplaneError) return error.code;
    throw error;
  }
}

describe('Impersonation key rotation', function () {
  // Two planes and CLI runs on a busy machine outlast mocha's default.
  this.timeout(60000);
  const idp = fakeIdentityProvider();
  let jwksServer: { url: string; close(): Promise<void> };
  let plane: TestPlane;
  let other: ServingTenantplane;
  let otherServer: Server | undefined;
  let bases: string[];
  let env: Record<string, string>;

  async function tenantctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', ...args],
        { env: plane.cliEnv(env) },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  async function publishedKids(base: string): Promise<string[]> {
    const answer = await fetch(`${base}/.well-known/tenantplane-impersonation-jwks.json`);
    expect(answer.status).to.equal(200);
    return ((await answer.json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
  }

  before(async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [idp.rsa.publicJwk, idp.ec.publicJwk] }));
    });
    jwksServer = { url: `${await listen(server)}/.well-known/jwks.json`, close: closer(server) };
    env = { AUTH_JWKS_URL: jwksServer.url, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, RATE_LIMITS: 'off' };
    plane = await createTestPlane({}, env);
    // A second serving process on the same catalog, started before any rotation.
    other = await plane.openAnother();
    otherServer = await other.listen(0, '127.0.0.1');
    bases = [await plane.listen(), `http://127.0.0.1:${(otherServer.address() as { port: number }).port}`];
  });
  after(async () => {
    if (otherServer) {
      otherServer.closeAllConnections();
      await new Promise((resolve) => otherServer!.close(resolve));
    }
    await plane?.close();
    await jwksServer?.close();
  });

  it('adds a key every process signs with and trusts at once, keeping the old one, then retires it', async () => {
    const planes = [plane.tp, other];
    const before = (await plane.tp.impersonation.mint('acme', 'alice')).token;
    const oldKid = kidOf(before);
    expect(kidOf((await other.impersonation.mint('acme', 'bob')).token)).to.equal(oldKid);

    const rotated = await tenantctl('impersonation', 'rotate-key');
    expect(rotated.code, rotated.stderr).to.equal(0);
    const newKid = /new impersonation key (\S+)/.exec(rotated.stdout)?.[1];
    expect(newKid).to.be.a('string').and.not.equal(oldKid);
    expect(rotated.stdout).to.include(`trusted: ${newKid} ${oldKid}`);

    // Told on the change channel: each process signs with the new key within moments, no restart.
    for (const tp of planes) {
      await eventually(
        'the new key signs',
        async () => kidOf((await tp.impersonation.mint('acme', 'carol')).token) === newKid,
        3000,
      );
    }
    const afterByPlane = (await plane.tp.impersonation.mint('acme', 'dave')).token;
    const afterByOther = (await other.impersonation.mint('acme', 'erin')).token;
    for (const tp of planes) {
      expect(await verdict(tp, before)).to.equal('ok');
      expect(await verdict(tp, afterByPlane)).to.equal('ok');
      expect(await verdict(tp, afterByOther)).to.equal('ok');
    }
    for (const base of bases) expect(await publishedKids(base)).to.deep.equal([newKid, oldKid]);

    const [audited] = await plane.tp
      .knex('audit_log')
      .where({ action: 'impersonation.key.rotated' })
      .select('actor', 'details');
    expect(audited.actor).to.match(/^cli:/);
    expect(audited.details).to.deep.equal({ kid: newKid, trusted: [newKid, oldKid], retired: [] });

    // Both keys age past the retention: the next rotation deletes the one superseded that long ago, and
    // keeps the one it supersedes now.
    await plane.tp.knex.raw(
      `UPDATE impersonation_keys SET created_at = created_at - make_interval(secs => ${2 * IMPERSONATION_KEY_RETENTION_SECONDS})`,
    );
    const again = await tenantctl('impersonation', 'rotate-key', '--json');
    expect(again.code, again.stderr).to.equal(0);
    const rotation = JSON.parse(again.stdout);
    expect(rotation.retired).to.deep.equal([oldKid]);
    expect(rotation.trusted).to.deep.equal([rotation.kid, newKid]);

    for (const tp of planes) {
      await eventually('the retired key is refused', async () => (await verdict(tp, before)) !== 'ok', 3000);
      expect(await verdict(tp, before)).to.equal('invalid_token');
      expect(await verdict(tp, afterByPlane)).to.equal('ok');
      expect(await verdict(tp, afterByOther)).to.equal('ok');
    }
    for (const base of bases) {
      await eventually('the retired key is no longer published', async () => {
        const kids = await publishedKids(base);
        return kids.length === 2 && kids[0] === rotation.kid && kids[1] === newKid;
      });
    }
  });

  it('trusts a key it has not heard of yet once the catalog has it', async () => {
    // A process that hears of no rotation: a token from one that did still verifies, after one re-read.
    const secrets = await SecretBox.fromKeyFile(plane.dataDir);
    const ring = await ImpersonationKeyRing.open(plane.tp.knex, secrets);
    const verifier = createTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { jwksUrl: jwksServer.url },
      otherIssuers: [{ issuer: IMPERSONATION_ISSUER, keys: ring }],
    });
    const rotated = await tenantctl('impersonation', 'rotate-key', '--json');
    expect(rotated.code, rotated.stderr).to.equal(0);
    const { kid } = JSON.parse(rotated.stdout);
    expect(ring.current(kid)).to.equal(undefined);
    let token = '';
    await eventually('the serving process signs with the new key', async () => {
      token = (await plane.tp.impersonation.mint('acme', 'frank')).token;
      return kidOf(token) === kid;
    });
    const principal = await verifier.verify(token);
    expect(principal.actor).to.equal('frank');
    expect(ring.current(kid)).to.not.equal(undefined);
  });

  it('answers 503 for an unknown kid while the catalog is away, keeping the keys it holds, and trusts the new key once it is back', async () => {
    // A process whose catalog connections go through a proxy the test cuts.
    const proxy = await startPgProxy();
    const knex = connectControlDatabase(proxy.url(`${plane.prefix}_control`), 2);
    try {
      const secrets = await SecretBox.fromKeyFile(plane.dataDir);
      const ring = await ImpersonationKeyRing.open(knex, secrets);
      const verifier = createTokenVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: { jwksUrl: jwksServer.url },
        otherIssuers: [{ issuer: IMPERSONATION_ISSUER, keys: ring }],
      });
      const held = (await plane.tp.impersonation.mint('acme', 'grace')).token;
      expect(ring.current(kidOf(held)), 'the ring holds the signing key').to.not.equal(undefined);
      const rotated = await tenantctl('impersonation', 'rotate-key', '--json');
      expect(rotated.code, rotated.stderr).to.equal(0);
      const { kid } = JSON.parse(rotated.stdout);
      let token = '';
      await eventually('the serving process signs with the new key', async () => {
        token = (await plane.tp.impersonation.mint('acme', 'grace')).token;
        return kidOf(token) === kid;
      });

      proxy.cut(() => true);
      const refused = await rejection<TenantplaneError>(verifier.verify(token));
      expect(refused.code).to.equal('unavailable');
      expect((await verifier.verify(held)).actor, 'a token of a key still held').to.equal('grace');

      proxy.release();
      await eventually('the new key trusted once the catalog is back', async () => {
        try {
          return (await verifier.verify(token)).actor === 'grace';
        } catch {
          return false;
        }
      });
    } finally {
      proxy.release();
      await knex.destroy();
      await proxy.close();
    }
  });

  it('exits 2 on bad usage', async () => {
    for (const args of [
      ['impersonation', 'rotate-key', 'now'],
      ['impersonation', 'rotate-key', '--retire-after', '60'],
      ['impersonation', 'rotate'],
    ]) {
      const answer = await tenantctl(...args);
      expect(answer.code, args.join(' ')).to.equal(2);
    }
  });
});
