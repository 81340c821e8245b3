/**
 * What roles and impersonation add to each application request, measured in-process and interleaved so
 * both sides of every ratio ran under the same load:
 *
 * - verifying a token (no verified-token cache, so every call verifies the signature) with a verifier
 *   that also accepts tenantplane's impersonation issuer (`otherIssuers`, which reads the token's `iss`
 *   to pick the keys), against one that accepts the identity provider only;
 * - the same with the verified-token cache, as requests reusing a token meet it;
 * - enforceTenantRole for an ordinary (member) token, against a middleware that only calls next().
 *
 * `npx tsx bench/auth/token-checks.ts [--rounds N] [--ops N]`; prints ns per operation (medians of the
 * rounds) and the median of each round's paired ratio with its interquartile range: ratios, not times.
 */
import { parseArgs } from 'node:util';
import type { Request, RequestHandler, Response } from 'express';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Principal } from '../../src/auth/principal.js';
import { enforceTenantRole } from '../../src/auth/tenant-role.js';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { median, pairedRatios, quantile } from '../lib/stats.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '15' }, ops: { type: 'string', default: '2000' } },
});
const rounds = Number(values.rounds);
const ops = Number(values.ops);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(ops) || ops < 1) {
  console.error('--rounds and --ops must be positive integers');
  process.exit(2);
}

async function keyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return {
    kid,
    privateKey,
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
  };
}

const provider = await keyPair('idp-1');
const impersonation = await keyPair('imp-1');
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ tenant_id: 'acme' })
  .setProtectedHeader({ alg: 'ES256', kid: provider.kid })
  .setIssuer('https://idp.example.test/')
  .setAudience('tenantplane')
  .setSubject('user-1')
  .setIssuedAt(now)
  .setExpirationTime(now + 3600)
  .sign(provider.privateKey);

function verifier(withImpersonation: boolean, cacheSize: number) {
  return createTokenVerifier({
    issuer: 'https://idp.example.test/',
    audience: 'tenantplane',
    keys: { jwks: provider.jwks },
    verifiedTokenCacheSize: cacheSize,
    ...(withImpersonation
      ? { otherIssuers: [{ issuer: 'tenantplane-impersonation', jwks: impersonation.jwks }] }
      : {}),
  });
}

async function timeVerify(v: ReturnType<typeof verifier>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) await v.verify(token);
  return Number(process.hrtime.bigint() - start) / ops;
}

const principal = (await verifier(false, 0).verify(token)) as Principal;
const request = { method: 'GET', principal } as unknown as Request;
const response = {} as Response;
function timeMiddleware(handler: RequestHandler): number {
  let passed = 0;
  const next = () => {
    passed++;
  };
  const start = process.hrtime.bigint();
  // Many calls per op so the clock's resolution does not dominate.
  for (let i = 0; i < ops * 100; i++) handler(request, response, next);
  const elapsed = Number(process.hrtime.bigint() - start) / (ops * 100);
  if (passed !== ops * 100) throw new Error('the middleware did not pass every request');
  return elapsed;
}

const cases = {
  verifyBaseline: verifier(false, 0),
  verifyWithImpersonation: verifier(true, 0),
  cachedBaseline: verifier(false, 10000),
  cachedWithImpersonation: verifier(true, 10000),
};
const roleGate = enforceTenantRole();
const passThrough: RequestHandler = (_req, _res, next) => next();
const samples: Record<string, number[]> = {
  verifyBaseline: [],
  verifyWithImpersonation: [],
  cachedBaseline: [],
  cachedWithImpersonation: [],
  passThrough: [],
  roleGate: [],
};

// Warm-up: JIT, key import, caches.
for (const v of Object.values(cases)) await timeVerify(v);
timeMiddleware(roleGate);
timeMiddleware(passThrough);

for (let round = 0; round < rounds; round++) {
  // Alternate which side goes first, so a drift in load favours neither.
  const order =
    round % 2 === 0
      ? (['Baseline', 'WithImpersonation'] as const)
      : (['WithImpersonation', 'Baseline'] as const);
  for (const side of order) samples[`verify${side}`]!.push(await timeVerify(cases[`verify${side}`]));
  for (const side of order) samples[`cached${side}`]!.push(await timeVerify(cases[`cached${side}`]));
  const gates =
    round % 2 === 0 ? (['passThrough', 'roleGate'] as const) : (['roleGate', 'passThrough'] as const);
  for (const gate of gates) samples[gate]!.push(timeMiddleware(gate === 'roleGate' ? roleGate : passThrough));
}

const ns = Object.fromEntries(
  Object.entries(samples).map(([name, list]) => [name, Math.round(median(list))]),
);
console.log(`ns per operation, medians of ${rounds} rounds of ${ops}:`);
console.table(ns);
/** The median of the rounds' paired ratios a/b, with their interquartile range. */
const ratio = (a: string, b: string) => {
  const ratios = pairedRatios(samples[a]!, samples[b]!);
  const [q1, q3] = [quantile(ratios, 0.25), quantile(ratios, 0.75)];
  return `${median(ratios).toFixed(3)} (IQR ${q1.toFixed(3)}-${q3.toFixed(3)})`;
};
console.log(
  `verify, no cache: with the impersonation issuer / provider only = ${ratio('verifyWithImpersonation', 'verifyBaseline')}`,
);
console.log(
  `verify, cached:   with the impersonation issuer / provider only = ${ratio('cachedWithImpersonation', 'cachedBaseline')}`,
);
console.log(
  `role gate / pass-through middleware = ${ratio('roleGate', 'passThrough')} (+${ns.roleGate! - ns.passThrough!} ns)`,
);
