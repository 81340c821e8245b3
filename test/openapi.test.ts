import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { compileErrors, validate } from '@readme/openapi-parser';
import { expect } from 'chai';
import type { Express } from 'express';
import { createApp } from '../src/http/app.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** The redocly CLI's entry point (a dev dependency), run with this node. */
const REDOCLY = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')),
  'bin/cli.js',
);

interface LintProblem {
  ruleId: string;
  severity: string;
  message: string;
  location: Array<{ pointer?: string }>;
}

/**
 * `redocly lint` on the served document with the checkout's redocly.yaml and its ignore list, which
 * redocly looks for beside the config and resolves its entries from there: all three go in one temporary
 * folder. Its JSON report's totals and problems.
 */
async function redoclyLint(served: string): Promise<{
  totals: { errors: number; warnings: number; ignored: number };
  problems: LintProblem[];
}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tenantplane-openapi-'));
  try {
    await writeFile(path.join(dir, 'openapi.json'), served);
    for (const file of ['redocly.yaml', '.redocly.lint-ignore.yaml'])
      await copyFile(path.join(PACKAGE_ROOT, file), path.join(dir, file));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [REDOCLY, 'lint', '--config', path.join(dir, 'redocly.yaml'), '--format', 'json', 'openapi.json'],
      {
        cwd: dir,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        timeout: 60000,
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch((error: { stdout?: string; stderr?: string; code?: unknown }) => {
      // It exits 1 when it finds errors; its report is still on stdout.
      if (error.stdout?.trim().startsWith('{')) return { stdout: error.stdout };
      throw new Error(`redocly lint did not run (exit ${error.code}): ${error.stderr}`, { cause: error });
    });
    return JSON.parse(stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface RouterLayer {
  rawPath?: string | string[];
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[]; handlers?: readonly unknown[] };
}

/** `/a/:id` and `/a/{job_id}` both become `/a/{}`: parameter names may differ between code and document. */
function normalise(path: string): string {
  return path.replace(/:[A-Za-z_]\w*/g, '{}').replace(/\{[^}]+\}/g, '{}');
}

/** Every `METHOD path` the express app routes, found by walking its router stack and nested routers. */
function servedRoutes(app: Express): Set<string> {
  const found = new Set<string>();
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on && method !== '_all') found.add(`${method.toUpperCase()} ${normalise(prefix + path)}`);
          }
        }
      } else if (layer.handle?.stack || layer.handle?.handlers) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        // A chain (src/http/chain.ts) is one layer holding several handlers, routers among them.
        const inner =
          layer.handle.stack ?? layer.handle.handlers?.map((handle) => ({ handle }) as RouterLayer);
        walk(inner ?? [], prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return found;
}

type Operation = { security?: unknown[] };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

function documentedRoutes(document: Document): Map<string, Operation> {
  const found = new Map<string, Operation>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) found.set(`${method.toUpperCase()} ${normalise(path)}`, operation);
    }
  }
  return found;
}

describe('OpenAPI document', () => {
  let plane: TestPlane;
  let base: string;
  let document: Document;

  before(async () => {
    plane = await createTestPlane();
    base = await plane.listen();
    const response = await fetch(`${base}/openapi.json`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^application\/json/);
    document = (await response.json()) as Document;
  });
  after(async () => plane.close());

  it('is served without a token and is valid OpenAPI 3.1', async () => {
    expect(document.openapi).to.equal('3.1.0');
    // The validator resolves $refs in place: give it a copy.
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).to.equal(true);
  });

  it("passes redocly lint's recommended rules with no error or warning", async function () {
    this.timeout(60000);
    const served = await (await fetch(`${base}/openapi.json`)).text();
    const report = await redoclyLint(served);
    const shown = report.problems.map(
      (problem) =>
        `${problem.severity} ${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`,
    );
    expect(shown).to.deep.equal([]);
    expect(report.totals).to.include({ errors: 0, warnings: 0 });
    // Every exception in .redocly.lint-ignore.yaml still matches a problem: none outlives its reason.
    expect(report.totals.ignored).to.equal(4);
  });

  it('declares exactly the routes the app serves', () => {
    const served = servedRoutes(createApp(plane.tp));
    const documented = new Set(documentedRoutes(document).keys());
    expect(served.size, 'the router walk found nothing: has express changed its internals?').to.be.above(10);
    const undocumented = [...served].filter((route) => !documented.has(route)).sort();
    const notServed = [...documented].filter((route) => !served.has(route)).sort();
    expect({ undocumented, notServed }).to.deep.equal({ undocumented: [], notServed: [] });
  });

  it('asks for a bearer token exactly where the app does', async () => {
    for (const [route, operation] of documentedRoutes(document)) {
      const [method, path] = route.split(' ') as [string, string];
      // `security: []` or an empty alternative `{}` means the operation can be called without a token.
      const security = operation.security;
      const open =
        Array.isArray(security) &&
        (security.length === 0 || security.some((scheme) => Object.keys(scheme as object).length === 0));
      const response = await fetch(`${base}${path.replaceAll('{}', 'some-id')}`, {
        method,
        ...(method === 'GET' || method === 'DELETE'
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: '{}' }),
      });
      await response.arrayBuffer();
      if (open) expect(response.status, route).to.not.equal(401);
      else {
        expect(response.status, route).to.equal(401);
        expect(response.headers.get('content-type'), route).to.match(/^application\/json/);
      }
    }
  });
});
