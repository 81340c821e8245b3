import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls, { type ConnectionOptions, type SecureVersion } from 'node:tls';
import { InvalidInputError, ServerTlsError } from '../errors/index.js';

/**
 * A server's admin URL turned into pg connection settings, with its TLS parameters read as libpq reads them
 * (not as node-postgres does: its connection-string parser makes `prefer`, `require` and `verify-ca` verify
 * the certificate and the host name like `verify-full`, and `prefer` never falls back to plaintext). The
 * same settings apply to every connection tenantplane makes to the server: admin, migrations, backups,
 * moves and the router's application-role pools.
 *
 * | sslmode | encrypted | certificate verified |
 * |---|---|---|
 * | `disable` | never | — |
 * | `prefer` (the default, as in libpq) | when the server offers TLS | only against `sslrootcert` when given, host name not checked |
 * | `require` | always | only against `sslrootcert` when given (then as `verify-ca`) |
 * | `verify-ca` | always | chain against `sslrootcert` (required), host name not checked |
 * | `verify-full` | always | chain against `sslrootcert` (or the system's CAs) and host name |
 *
 * Besides `sslmode`: `sslrootcert` (a PEM file, or `system`, which libpq allows with `verify-full` only),
 * `sslcert` and `sslkey` (a client certificate, both or neither), `sslpassword` (of an encrypted key),
 * `sslcrl`, `ssl_min_protocol_version` and `ssl_max_protocol_version`. A URL an operator gives must name
 * files by absolute paths (every instance reads them, whatever its working directory) and follow libpq's
 * rules on CAs (checkServerUrl); a URL stored before those checks is still read as far as it can be,
 * relative paths from the working directory as libpq does. Where libpq would fall back on files in
 * `~/.postgresql/` or on `PG*` environment variables, tenantplane does not: a server is reached the same
 * way from every instance, by what its URL says. node-postgres' own spellings keep their meaning:
 * `sslmode=no-verify` (encrypted, nothing verified), `ssl=true` (`verify-full`), `ssl=false` (`disable`).
 */

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The TLS parameters of a server URL; file paths, never the files' contents. */
export interface TlsSettings {
  sslmode: SslMode;
  /** An absolute path, or `system`; undefined when the URL names none. */
  sslrootcert: string | undefined;
  sslcert: string | undefined;
  sslkey: string | undefined;
  sslpassword: string | undefined;
  sslcrl: string | undefined;
  minVersion: SecureVersion | undefined;
  maxVersion: SecureVersion | undefined;
}

/** A server URL split into what pg reads itself and the TLS settings tenantplane applies. */
export interface ServerUrl {
  /** The URL without its TLS parameters: host, port, user, password, database and any other option. */
  connectionString: string;
  host: string;
  port: number;
  tls: TlsSettings;
}

/** pg settings for one connection: spread them into `new pg.Client({...})`. */
export interface ServerClientConfig {
  connectionString: string;
  ssl: false | ConnectionOptions;
}

/** URL parameters tenantplane reads itself; pg never sees them. */
const TLS_PARAMETERS = [
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslcrl',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'ssl',
  'uselibpqcompat',
] as const;

const TLS_VERSIONS: Readonly<Record<string, SecureVersion>> = {
  TLSv1: 'TLSv1',
  'TLSv1.1': 'TLSv1.1',
  'TLSv1.2': 'TLSv1.2',
  'TLSv1.3': 'TLSv1.3',
};

function invalid(message: string): InvalidInputError {
  return new InvalidInputError(message, 'invalid_url');
}

function sslModeOf(params: URLSearchParams): SslMode {
  const mode = params.get('sslmode');
  if (mode !== null) {
    if ((SSL_MODES as readonly string[]).includes(mode)) return mode as SslMode;
    throw invalid(
      `sslmode=${mode} is not supported: use disable, prefer, require, verify-ca or verify-full` +
        (mode === 'allow' ? ' (allow would try plaintext first; prefer tries TLS first)' : ''),
    );
  }
  // node-postgres' own parameter, for URLs written for it.
  const ssl = params.get('ssl');
  if (ssl === null) return 'prefer';
  if (ssl === 'true' || ssl === '1') return 'verify-full';
  if (ssl === 'false' || ssl === '0') return 'disable';
  if (ssl === 'no-verify') return 'no-verify';
  throw invalid(`ssl=${ssl} is not supported: use sslmode`);
}

/** A file parameter; a relative path (which only a URL stored before paths were checked can hold) is libpq's: from the working directory. */
function filePath(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  if (name === 'sslrootcert' && value === 'system') return value;
  return path.resolve(value);
}

const FILE_PARAMETERS = ['sslrootcert', 'sslcert', 'sslkey', 'sslcrl'] as const;

function tlsVersion(params: URLSearchParams, name: string): SecureVersion | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  const version = TLS_VERSIONS[value];
  if (!version) throw invalid(`${name}=${value} is not one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
  return version;
}

/**
 * Splits a server URL as stored in the catalog. Throws InvalidInputError (code `invalid_url`) for what
 * cannot be connected with at all; the message never contains the URL (it holds a password). A URL given
 * by an operator goes through checkServerUrl first, which is stricter.
 */
export function parseServerUrl(raw: string): ServerUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('the server URL must be a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw invalid('the server URL must be a postgres:// URL');
  }
  if (!url.hostname || !url.username) throw invalid('the server URL needs a host and a user');
  const params = url.searchParams;
  const settings: TlsSettings = {
    sslmode: sslModeOf(params),
    sslrootcert: filePath(params, 'sslrootcert'),
    sslcert: filePath(params, 'sslcert'),
    sslkey: filePath(params, 'sslkey'),
    sslpassword: params.get('sslpassword') ?? undefined,
    sslcrl: filePath(params, 'sslcrl'),
    minVersion: tlsVersion(params, 'ssl_min_protocol_version'),
    maxVersion: tlsVersion(params, 'ssl_max_protocol_version'),
  };
  if ((settings.sslcert === undefined) !== (settings.sslkey === undefined)) {
    throw invalid('sslcert and sslkey go together: a client certificate needs its key');
  }
  for (const name of TLS_PARAMETERS) params.delete(name);
  // IPv6 literals come bracketed from URL; sockets want them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { connectionString: url.toString(), host, port: Number(url.port || 5432), tls: settings };
}

/**
 * parseServerUrl, and what a URL an operator gives (`servers add`, `servers update`) must also satisfy:
 * absolute file paths, since every instance reads the files whatever its working directory; and libpq's
 * rules against CAs that would let through certificates that somebody else obtained.
 */
export function checkServerUrl(raw: string): ServerUrl {
  const parsed = parseServerUrl(raw);
  const params = new URL(raw).searchParams;
  for (const name of FILE_PARAMETERS) {
    const value = params.get(name);
    if (value && !(name === 'sslrootcert' && value === 'system') && !path.isAbsolute(value)) {
      throw invalid(`${name} must be an absolute path (every instance reads it): ${value}`);
    }
  }
  const { sslmode, sslrootcert } = parsed.tls;
  if (sslrootcert === 'system' && sslmode !== 'verify-full' && sslmode !== 'disable') {
    // libpq's rule: any certificate a public CA issued, for any name, would pass anything weaker.
    throw invalid(`sslrootcert=system needs sslmode=verify-full (not ${sslmode})`);
  }
  if (sslmode === 'verify-ca' && sslrootcert === undefined) {
    throw invalid('sslmode=verify-ca needs sslrootcert=<CA file>: the chain is verified against it');
  }
  return parsed;
}

/** What `servers list` shows of a server's TLS settings: no secrets, only the mode and file paths. */
export interface TlsSummary {
  sslmode: SslMode;
  sslrootcert: string | null;
  sslcert: string | null;
}

export function summarizeTls(settings: TlsSettings): TlsSummary {
  return {
    sslmode: settings.sslmode,
    sslrootcert: settings.sslrootcert ?? null,
    sslcert: settings.sslcert ?? null,
  };
}

/**
 * A server URL fit for logs, audit entries and messages: without its password and `sslpassword`. Anything
 * unparseable is not shown at all.
 */
export function redactServerUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    if (url.searchParams.has('sslpassword')) url.searchParams.set('sslpassword', '***');
    return url.toString();
  } catch {
    return '[unparseable url]';
  }
}

/** TLS settings with their files read: what one server's connections are made with. */
export interface ServerTls {
  settings: TlsSettings;
  /** `always`: TLS or no connection; `if-offered`: TLS when the server offers it (prefer). */
  encrypt: 'never' | 'if-offered' | 'always';
  /** Options for tls.connect, files included. */
  options: ConnectionOptions;
}

async function readTlsFile(name: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ServerTlsError(`cannot read ${name} ${file}: ${(error as Error).message}`, error);
  }
}

/** Reads the files the settings name; ServerTlsError names the parameter and path of one that cannot be read. */
export async function loadServerTls(settings: TlsSettings): Promise<ServerTls> {
  const { sslmode } = settings;
  if (sslmode === 'disable') return { settings, encrypt: 'never', options: {} };
  const options: ConnectionOptions = {};
  const rootFile = settings.sslrootcert !== undefined && settings.sslrootcert !== 'system';
  const [ca, cert, key, crl] = await Promise.all([
    rootFile ? readTlsFile('sslrootcert', settings.sslrootcert!) : undefined,
    settings.sslcert ? readTlsFile('sslcert', settings.sslcert) : undefined,
    settings.sslkey ? readTlsFile('sslkey', settings.sslkey) : undefined,
    settings.sslcrl ? readTlsFile('sslcrl', settings.sslcrl) : undefined,
  ]);
  if (ca !== undefined) options.ca = ca;
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  if (settings.sslpassword !== undefined) options.passphrase = settings.sslpassword;
  if (crl !== undefined) options.crl = crl;
  if (settings.minVersion) options.minVersion = settings.minVersion;
  if (settings.maxVersion) options.maxVersion = settings.maxVersion;
  // libpq verifies the chain whenever it has a root certificate, even for prefer and require.
  const verifyChain =
    sslmode === 'verify-ca' || sslmode === 'verify-full' || (sslmode !== 'no-verify' && rootFile);
  options.rejectUnauthorized = verifyChain;
  if (sslmode !== 'verify-full') options.checkServerIdentity = () => undefined;
  return { settings, encrypt: sslmode === 'prefer' ? 'if-offered' : 'always', options };
}

/** How long what a server said about TLS is believed, for `prefer`. */
const TLS_OFFER_TTL_MS = 30_000;
const PROBE_TIMEOUT_MS = 5_000;
const SSL_REQUEST_CODE = 80877103;

/** host:port → whether it offers TLS, and until when that is believed. Shared: it is a fact about the network. */
const tlsOffers = new Map<string, { offers: Promise<boolean | undefined>; until: number }>();

/**
 * Whether the server answers an SSLRequest with 'S' (true) or 'N' (false); undefined when it cannot be
 * told (unreachable, no answer, anything else). A server that offered TLS is shaken hands with before the
 * socket closes, as PostgreSQL logs a handshake cut short.
 */
function probeTls(host: string, port: number): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let done = false;
    const finish = (offers: boolean | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(offers);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish(undefined);
    }, PROBE_TIMEOUT_MS);
    socket.on('error', () => finish(undefined));
    socket.once('connect', () => {
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(SSL_REQUEST_CODE, 4);
      socket.write(request);
    });
    socket.once('data', (answer) => {
      if (answer[0] !== 0x53 /* S */) {
        socket.destroy();
        finish(answer[0] === 0x4e /* N */ ? false : undefined);
        return;
      }
      const secure = tls.connect({
        socket,
        rejectUnauthorized: false,
        ...(net.isIP(host) === 0 ? { servername: host } : {}),
      });
      secure.on('error', () => {
        secure.destroy();
        finish(true);
      });
      secure.once('secureConnect', () => {
        secure.end();
        finish(true);
      });
    });
  });
}

/**
 * Whether to use TLS under `prefer`. What the server said is believed for a while, so that a connection
 * costs one probe per server every TLS_OFFER_TTL_MS at most. A server that could not be asked is taken to
 * offer TLS (and asked again next time): the connection then fails for the real reason, and nothing is
 * sent in clear on a guess.
 */
async function offersTls(host: string, port: number): Promise<boolean> {
  const key = `${host}:${port}`;
  const now = performance.now();
  let known = tlsOffers.get(key);
  if (!known || known.until <= now) {
    known = { offers: probeTls(host, port), until: now + TLS_OFFER_TTL_MS };
    tlsOffers.set(key, known);
  }
  const entry = known;
  const offers = await entry.offers;
  if (offers === undefined) {
    if (tlsOffers.get(key) === entry) tlsOffers.delete(key);
    return true;
  }
  return offers;
}

/**
 * The `ssl` setting of one new connection: false, or options for tls.connect (a fresh object each time:
 * pg changes the one it is given).
 */
export async function sslFor(
  server: ServerTls,
  host: string,
  port: number,
): Promise<false | ConnectionOptions> {
  if (server.encrypt === 'never') return false;
  if (server.encrypt === 'if-offered' && !(await offersTls(host, port))) return false;
  return { ...server.options };
}

/** OpenSSL's verification failures, as Node reports them in `error.code`. */
const CERTIFICATE_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * The reason a connection failed, saying which TLS settings refused the server's certificate when that is
 * what happened (Node's own message names neither the mode nor the CA file).
 */
export function describeConnectFailure(error: unknown, settings: TlsSettings): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !CERTIFICATE_ERRORS.has(code)) return message;
  const against =
    settings.sslrootcert === undefined || settings.sslrootcert === 'system'
      ? "the system's CAs"
      : `sslrootcert ${settings.sslrootcert}`;
  return `the server's certificate failed verification against ${against} (sslmode=${settings.sslmode}): ${message}`;
}

/** pg settings for a connection to the server an admin URL names: its own parameters, TLS as libpq has it. */
export async function serverClientConfig(url: string): Promise<ServerClientConfig> {
  const parsed = parseServerUrl(url);
  const server = await loadServerTls(parsed.tls);
  return { connectionString: parsed.connectionString, ssl: await sslFor(server, parsed.host, parsed.port) };
}
