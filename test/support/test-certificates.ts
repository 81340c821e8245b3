import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throwaway certificate authority with a server and a client certificate it signed, as PEM files. */
export interface TestCertificates {
  directory: string;
  /** The CA's certificate: what `sslrootcert` names to trust the server. */
  caFile: string;
  /** Another CA's certificate, which signed nothing here: trusting it must fail verification. */
  otherCaFile: string;
  /** For the server: CN=localhost, subjectAltName DNS:localhost and IP:127.0.0.1. */
  serverCertFile: string;
  serverKeyFile: string;
  /** For a client: CN=tenantplane-client. */
  clientCertFile: string;
  clientKeyFile: string;
  remove(): Promise<void>;
}

/** EC keys keep generation fast (milliseconds, where RSA takes a good part of a second each). */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(directory: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: directory });
}

async function selfSignedCa(directory: string, name: string): Promise<void> {
  await openssl(
    directory,
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
}

async function signedBy(directory: string, name: string, subject: string, extensions: string): Promise<void> {
  await writeFile(path.join(directory, `${name}.ext`), `${extensions}\n`);
  await openssl(
    directory,
    'req',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  );
  await openssl(
    directory,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

/** Generates the certificates with `openssl` in a fresh temporary folder (readable by the postgres user). */
export async function createTestCertificates(): Promise<TestCertificates> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'tp-tls-'));
  await chmod(directory, 0o755);
  try {
    await selfSignedCa(directory, 'ca');
    await selfSignedCa(directory, 'other-ca');
    await signedBy(
      directory,
      'server',
      '/CN=localhost',
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth',
    );
    await signedBy(directory, 'client', '/CN=tenantplane-client', 'extendedKeyUsage=clientAuth');
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const file = (name: string) => path.join(directory, name);
  return {
    directory,
    caFile: file('ca.pem'),
    otherCaFile: file('other-ca.pem'),
    serverCertFile: file('server.crt'),
    serverKeyFile: file('server.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}
