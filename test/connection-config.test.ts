import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  checkServerUrl,
  loadServerTls,
  parseServerUrl,
  redactServerUrl,
  serverClientConfig,
} from '../src/catalog/connection-config.js';
import type { TenantplaneError } from '../src/errors/index.js';
import { TEST_POSTGRES_URL } from './setup/hooks.js';
import { rejection } from './support/async-helpers.js';

const BASE = 'postgres://admin:s3cret@db.example:6432/postgres';

function thrown(fn: () => unknown): TenantplaneError {
  try {
    fn();
  } catch (error) {
    return error as TenantplaneError;
  }
  throw new Error('expected a throw');
}

describe('server connection settings', () => {
  let directory: string;
  let ca: string;

  before(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'tp-connection-config-'));
    ca = path.join(directory, 'ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
  });
  after(() => rm(directory, { recursive: true, force: true }));

  async function tlsOf(query: string) {
    const server = await loadServerTls(checkServerUrl(`${BASE}?${query}`).tls);
    const { options } = server;
    return {
      encrypt: server.encrypt,
      rejectUnauthorized: options.rejectUnauthorized,
      checksName: options.checkServerIdentity === undefined,
      ca: options.ca !== undefined,
    };
  }

  it('gives each sslmode libpq’s meaning, not node-postgres’', async () => {
    expect((await loadServerTls(parseServerUrl(`${BASE}?sslmode=disable`).tls)).encrypt).to.equal('never');
    expect(await tlsOf('')).to.deep.equal({
      encrypt: 'if-offered',
      rejectUnauthorized: false,
      checksName: false,
      ca: false,
    });
    expect(await tlsOf('sslmode=require')).to.deep.equal({
      encrypt: 'always',
      rejectUnauthorized: false,
      checksName: false,
      ca: false,
    });
    // A root certificate makes require (and prefer) verify the chain, as libpq does.
    expect(await tlsOf(`sslmode=require&sslrootcert=${ca}`)).to.deep.equal({
      encrypt: 'always',
      rejectUnauthorized: true,
      checksName: false,
      ca: true,
    });
    expect(await tlsOf(`sslmode=verify-ca&sslrootcert=${ca}`)).to.deep.equal({
      encrypt: 'always',
      rejectUnauthorized: true,
      checksName: false,
      ca: true,
    });
    expect(await tlsOf(`sslmode=verify-full&sslrootcert=${ca}`)).to.deep.equal({
      encrypt: 'always',
      rejectUnauthorized: true,
      checksName: true,
      ca: true,
    });
    // Without a CA file verify-full trusts the system's CAs (node's defaults).
    expect(await tlsOf('sslmode=verify-full')).to.deep.equal({
      encrypt: 'always',
      rejectUnauthorized: true,
      checksName: true,
      ca: false,
    });
    expect(await tlsOf('ssl=true')).to.include({ encrypt: 'always', checksName: true });
    expect(await tlsOf('sslmode=no-verify')).to.include({ encrypt: 'always', rejectUnauthorized: false });
  });

  it('leaves pg the rest of the URL and keeps TLS parameters away from it', () => {
    const parsed = parseServerUrl(
      `${BASE}?sslmode=verify-full&sslrootcert=${ca}&application_name=x&uselibpqcompat=true`,
    );
    expect(parsed.connectionString).to.equal(`${BASE}?application_name=x`);
    expect([parsed.host, parsed.port]).to.deep.equal(['db.example', 6432]);
  });

  it('refuses what libpq would, and relative paths in a URL an operator gives', () => {
    const cases: Array<[string, string]> = [
      ['sslmode=allow', 'sslmode=allow is not supported'],
      ['sslmode=strict', 'sslmode=strict is not supported'],
      ['sslmode=verify-ca', 'sslmode=verify-ca needs sslrootcert=<CA file>'],
      ['sslmode=require&sslrootcert=system', 'sslrootcert=system needs sslmode=verify-full (not require)'],
      ['sslmode=verify-full&sslrootcert=ca.pem', 'sslrootcert must be an absolute path'],
      [`sslcert=${ca}`, 'sslcert and sslkey go together'],
      ['ssl_min_protocol_version=SSLv3', 'ssl_min_protocol_version=SSLv3 is not one of'],
    ];
    for (const [query, message] of cases) {
      const error = thrown(() => checkServerUrl(`${BASE}?${query}`));
      expect([error.code, error.message], query).to.satisfy(
        ([code, text]: [string, string]) => code === 'invalid_url' && text.includes(message),
      );
      expect(error.message).not.to.contain('s3cret');
    }
    // A URL stored before paths were checked is still read: from the working directory, as libpq does.
    expect(parseServerUrl(`${BASE}?sslmode=verify-full&sslrootcert=ca.pem`).tls.sslrootcert).to.equal(
      path.resolve('ca.pem'),
    );
  });

  it('names the parameter and file it cannot read', async () => {
    const missing = path.join(directory, 'client.key');
    const failure = await rejection<TenantplaneError>(
      serverClientConfig(`${BASE}?sslmode=require&sslcert=${ca}&sslkey=${missing}`),
    );
    expect([failure.code, failure.message]).to.deep.equal([
      'server_tls_config',
      `cannot read sslkey ${missing}: ENOENT: no such file or directory, open '${missing}'`,
    ]);
  });

  it('falls back to plaintext under prefer when the server offers no TLS', async () => {
    // The test PostgreSQL runs without TLS.
    expect((await serverClientConfig(TEST_POSTGRES_URL)).ssl).to.equal(false);
    const required = await serverClientConfig(`${TEST_POSTGRES_URL}?sslmode=require`);
    expect(required.ssl).to.deep.include({ rejectUnauthorized: false });
  });

  it('redacts the password and sslpassword', () => {
    expect(redactServerUrl(`${BASE}?sslmode=require&sslpassword=keypass`)).to.equal(
      'postgres://admin:***@db.example:6432/postgres?sslmode=require&sslpassword=***',
    );
  });
});
