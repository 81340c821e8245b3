/**
 * The examples of README.md and docs/*.md marked runnable (a fence opened with ```sh runnable or
 * ```ts runnable) run here, so that they cannot go stale. Each file's examples run in order, as a reader
 * would type them in one session, on a test plane of the file's own (fresh control database, database
 * prefix and data folder):
 *
 * - a `sh` block runs in `bash -euo pipefail` with the plane's environment and `tenantctl` (from source)
 *   on PATH; it must exit 0 (`curl -f` makes an HTTP error fail it);
 * - a `ts` block is type-checked as the project's code is (tsconfig.json), then runs with tsx; its
 *   `from 'tenantplane'` is the package's source (src/index.ts) in both, and it runs with the same
 *   environment and PORT. One that exits must exit 0; one that starts listening on PORT keeps
 *   running, as a server in another terminal would, until the file's last example is done.
 *
 * Two literals stand for this machine's services: the admin URL
 * `postgres://postgres@127.0.0.1:5432/postgres` is TEST_POSTGRES_URL, and `http://127.0.0.1:3000` is
 * PORT: where the file's `ts` example listens, or, in a file without one, the plane's own HTTP API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { TEST_POSTGRES_URL } from './setup/hooks.js';
import { freePort } from './support/free-port.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const EXAMPLE_API_URL = 'http://127.0.0.1:3000';
const RUN_TIMEOUT_MS = 120_000;
const PACKAGE_ENTRY = path.join(ROOT, 'src/index.ts');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

interface Example {
  file: string;
  /** Line of the opening fence, 1-based. */
  line: number;
  lang: 'sh' | 'ts';
  code: string;
}

/** The fenced blocks of `markdown` whose info string says `runnable`; other blocks are illustrations. */
function runnableExamples(file: string, markdown: string): Example[] {
  const examples: Example[] = [];
  const lines = markdown.split('\n');
  let open: { line: number; lang: string; runnable: boolean; body: string[] } | undefined;
  lines.forEach((text, index) => {
    const fence = /^```(.*)$/.exec(text);
    if (!open) {
      if (!fence) return;
      const [lang = '', ...words] = (fence[1] ?? '').trim().split(/\s+/);
      open = { line: index + 1, lang, runnable: words.includes('runnable'), body: [] };
      return;
    }
    if (fence?.[1]?.trim() !== '') {
      open.body.push(text);
      return;
    }
    if (open.runnable) {
      if (open.lang !== 'sh' && open.lang !== 'ts') {
        throw new Error(`${file}:${open.line}: a runnable block must be sh or ts, not "${open.lang}"`);
      }
      examples.push({ file, line: open.line, lang: open.lang, code: `${open.body.join('\n')}\n` });
    }
    open = undefined;
  });
  if (open) throw new Error(`${file}:${open.line}: code block never closed`);
  return examples;
}

const DOC_FILES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const EXAMPLES = new Map(
  DOC_FILES.map((file) => [file, runnableExamples(file, readFileSync(path.join(ROOT, file), 'utf8'))]),
);

function forThisMachine(code: string, port: number): string {
  return code
    .replaceAll(EXAMPLE_ADMIN_URL, TEST_POSTGRES_URL)
    .replaceAll(EXAMPLE_API_URL, `http://127.0.0.1:${port}`);
}

function where(example: Example): string {
  return `${example.file}:${example.line} (${example.lang})`;
}

function failure(example: Example, what: string, stdout: string, stderr: string): Error {
  return new Error(`${where(example)} ${what}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
}

/** Runs `command` to its end; resolves with its output when it exits 0, rejects naming the example. */
function runToEnd(
  example: Example,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(failure(example, `exited with ${code ?? signal}`, stdout, stderr));
    });
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs a `ts` example: resolves once it has exited 0 (undefined) or listens on `port` (the running child,
 * left running), rejects when it fails first.
 */
async function startTs(
  example: Example,
  file: string,
  port: number,
  env: NodeJS.ProcessEnv,
): Promise<ChildProcess | undefined> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exit) {
      if (exit.code === 0) return undefined;
      throw failure(example, `exited with ${exit.code ?? exit.signal}`, stdout, stderr);
    }
    if (await portAnswers(port)) return child;
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  child.kill('SIGKILL');
  throw failure(
    example,
    `neither exited nor listened on ${port} within ${RUN_TIMEOUT_MS} ms`,
    stdout,
    stderr,
  );
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Type-checks a `ts` example as the project's code is checked, `tenantplane` being the package's source. */
async function typeCheck(
  example: Example,
  code: string,
  scratch: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const source = `check-${example.line}.ts`;
  await writeFile(path.join(scratch, source), code);
  const tsconfig = path.join(scratch, `tsconfig-${example.line}.json`);
  const config = {
    extends: path.join(ROOT, 'tsconfig.json'),
    compilerOptions: { noEmit: true, types: ['node'], paths: { tenantplane: [PACKAGE_ENTRY] } },
    include: [source],
  };
  await writeFile(tsconfig, JSON.stringify(config));
  try {
    await runToEnd(example, process.execPath, [TSC, '-p', tsconfig], env);
  } catch (error) {
    throw new Error(`does not type-check: ${(error as Error).message}`);
  }
}

/** Runs one file's examples in order on a fresh plane. */
async function runFile(examples: Example[]): Promise<void> {
  const plane: TestPlane = await createTestPlane();
  const port = await freePort();
  const bin = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-docs-bin-'));
  // Inside the project, so that the example's imports resolve from its node_modules (.data/ is ignored).
  const scratch = path.join(ROOT, '.data', `docs-examples-${plane.prefix}`);
  const children: ChildProcess[] = [];
  let server: Server | undefined;
  try {
    await writeFile(
      path.join(bin, 'tenantctl'),
      `#!/bin/sh\nexec "${process.execPath}" --import tsx "${path.join(ROOT, 'src/cli/main.ts')}" "$@"\n`,
    );
    await chmod(path.join(bin, 'tenantctl'), 0o755);
    const env = plane.cliEnv({ PATH: `${bin}:${process.env.PATH ?? ''}`, PORT: String(port) });
    delete env.NODE_ENV;
    if (!examples.some((example) => example.lang === 'ts')) {
      server = await plane.tp.listen(port, '127.0.0.1');
    }
    await mkdir(scratch, { recursive: true });
    for (const example of examples) {
      const code = forThisMachine(example.code, port);
      if (example.lang === 'sh') {
        await runToEnd(example, 'bash', ['-euo', 'pipefail', '-c', code], env);
        continue;
      }
      await typeCheck(example, code, scratch, env);
      const source = path.join(scratch, `run-${example.line}.ts`);
      await writeFile(
        source,
        code.replaceAll(/from 'tenantplane'/g, `from ${JSON.stringify(PACKAGE_ENTRY)}`),
      );
      const child = await startTs(example, source, port, env);
      if (child) children.push(child);
    }
  } finally {
    for (const child of children) await stop(child);
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    }
    await plane.close();
    await rm(bin, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
}

describe('Runnable examples of the README and docs/', function () {
  this.timeout(300_000);

  it('finds them: the README has some, and every one is sh or ts', () => {
    expect(EXAMPLES.get('README.md') ?? []).to.not.be.empty;
    const all = [...EXAMPLES.values()].flat();
    expect(all.map((example) => example.lang)).to.include.members(['sh', 'ts']);
  });

  it('reads a fence as runnable only when its info string says so', () => {
    const markdown = ['```sh', 'echo no', '```', '```sh runnable', 'echo yes', '```', '```json', '{}', '```'];
    expect(runnableExamples('x.md', markdown.join('\n'))).to.deep.equal([
      { file: 'x.md', line: 4, lang: 'sh', code: 'echo yes\n' },
    ]);
    expect(() => runnableExamples('x.md', '```json runnable\n{}\n```\n')).to.throw(/sh or ts/);
  });

  for (const [file, examples] of EXAMPLES) {
    if (examples.length === 0) continue;
    it(`${file}: its ${examples.length} runnable example(s) run`, async () => {
      await runFile(examples);
    });
  }
});
