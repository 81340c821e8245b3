import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './free-port.js';

/**
 * One moto server (S3 and KMS emulator) per mocha process, started on first use by the test files that
 * need it and killed when the process exits. Nothing is mocked: the AWS SDK talks HTTP to moto.
 */
export interface Moto {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** The AWS SDK's standard variables pointing at this moto, with dummy credentials. */
  env: Record<string, string>;
  /** Sets `env` on process.env (the SDK reads it when a client is built); returns the undo. */
  applyEnv(): () => void;
  s3(): S3Client;
  kms(): KMSClient;
  /** Creates a bucket with a random name (or the given one) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Creates a symmetric KMS key and returns its key id. */
  createKmsKey(): Promise<string>;
}

const STARTUP_TIMEOUT_MS = 20_000;
let started: Promise<Moto> | undefined;

/** The shared moto server; throws an error naming moto when it cannot start (tests never skip). */
export function startMoto(): Promise<Moto> {
  started ??= launch().catch((error: Error) => {
    started = undefined;
    throw new Error(
      `moto (the S3/KMS emulator) could not start: ${error.message}. ` +
        "Install it with: pip install 'moto[server]'",
      { cause: error },
    );
  });
  return started;
}

async function launch(): Promise<Moto> {
  let lastError: Error | undefined;
  // A port found free can be taken before moto binds it; a few fresh ports make that harmless.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      const child = await spawnMoto(port);
      process.once('exit', () => child.kill('SIGKILL'));
      return motoAt(`http://127.0.0.1:${port}`);
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError ?? new Error('no attempt made');
}

/** An endpoint nothing listens on (a port found free and released): for "service unreachable" tests. */
export async function closedEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/** Tries `moto_server`, then `python3 -m moto.server`; resolves once the server answers HTTP. */
async function spawnMoto(port: number): Promise<ChildProcess> {
  const args = ['-H', '127.0.0.1', '-p', String(port)];
  const commands: Array<[string, string[]]> = [
    ['moto_server', args],
    ['python3', ['-m', 'moto.server', ...args]],
  ];
  const failures: string[] = [];
  for (const [command, commandArgs] of commands) {
    try {
      return await runUntilReady(command, commandArgs, port);
    } catch (error) {
      failures.push(`${command}: ${(error as Error).message}`);
    }
  }
  throw new Error(failures.join('; '));
}

function runUntilReady(command: string, args: string[], port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(message));
    };
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code) => fail(`exited with ${code} before answering: ${stderr.trim()}`));
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    const poll = async () => {
      if (settled) return;
      try {
        const response = await fetch(`http://127.0.0.1:${port}/moto-api/`);
        await response.arrayBuffer();
        settled = true;
        // Moto's log lines must not fill a pipe nobody reads any more.
        child.stderr?.removeAllListeners('data');
        child.stderr?.resume();
        child.removeAllListeners('exit');
        // Moto never keeps the test process alive; it is killed when that process exits.
        child.unref();
        (child.stderr as (NodeJS.ReadableStream & { unref?: () => void }) | null)?.unref?.();
        resolve(child);
      } catch {
        if (Date.now() > deadline) fail(`did not answer on port ${port} within ${STARTUP_TIMEOUT_MS} ms`);
        else setTimeout(poll, 100);
      }
    };
    void poll();
  });
}

function motoAt(endpoint: string): Moto {
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const clientConfig = {
    endpoint,
    region: env.AWS_REGION!,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  return {
    endpoint,
    env,
    applyEnv() {
      const before = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
      Object.assign(process.env, env);
      return () => {
        for (const [name, value] of Object.entries(before)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      };
    },
    s3: () => new S3Client({ ...clientConfig, forcePathStyle: true }),
    kms: () => new KMSClient(clientConfig),
    async createBucket(name = `tp-test-${randomBytes(4).toString('hex')}`) {
      const client = new S3Client({ ...clientConfig, forcePathStyle: true });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
      return name;
    },
    async createKmsKey() {
      const client = new KMSClient(clientConfig);
      try {
        const created = await client.send(new CreateKeyCommand({ Description: 'tenantplane test' }));
        return created.KeyMetadata!.KeyId!;
      } finally {
        client.destroy();
      }
    },
  };
}
