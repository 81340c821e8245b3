import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildService } from './child-service.js';

/** One request of a RequestLoad: what was asked, when, and what came back. */
export interface Outcome {
  tenant: string;
  kind: LoadKind;
  /** performance.now() when the request was sent, and its duration. */
  started: number;
  ms: number;
  /** 0: no HTTP answer at all (the service is gone, or the test's own timeout fired). */
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  /** The row id a 201 acknowledged, or the row an update was for. */
  id: string | undefined;
  /** The status an update set. */
  value?: string;
  error: string | undefined;
}

export interface Answer {
  status: number;
  ms: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field by the assertions
  body: any;
  headers: Headers | undefined;
  error?: string;
}

/**
 * One request with the test's own (generous) timeout, so a hung request shows as an answer with status 0,
 * not a hung test.
 */
export async function send(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  timeoutMs = 15000,
): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: kept as text for the failure message.
    }
    return {
      status: response.status,
      ms: performance.now() - started,
      body: parsed,
      headers: response.headers,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return {
      status: 0,
      ms: performance.now() - started,
      body: undefined,
      headers: undefined,
      error: cause?.code ?? (error as Error).message,
    };
  }
}

/** read: GET /api/v1/deployments; write: POST a row named `<label>-<n>`; update: PATCH one row's status. */
export type LoadKind = 'read' | 'write' | 'update';

/**
 * Application traffic from a test: loops of reads, writes or updates (see LoadKind) of one tenant each, one
 * request at a time, until stopped.
 */
export class RequestLoad {
  readonly outcomes: Outcome[] = [];
  #running = true;
  readonly #loops: Promise<void>[] = [];

  constructor(
    private readonly base: string,
    private readonly label: string,
    /** Each request's own timeout, in ms (see `send`). */
    private readonly timeoutMs = 15000,
  ) {}

  /**
   * Starts one loop, pausing `pauseMs` between its requests. An update loop sets the status of deployment
   * `row` to a value no other request sets.
   */
  run(tenant: string, token: string, kind: LoadKind, pauseMs: number, row?: string): void {
    this.#loops.push(this.#loop(tenant, token, kind, pauseMs, row, this.#loops.length));
  }

  async #loop(
    tenant: string,
    token: string,
    kind: LoadKind,
    pauseMs: number,
    row: string | undefined,
    loop: number,
  ): Promise<void> {
    let n = 0;
    while (this.#running) {
      n += 1;
      const started = performance.now();
      const value = kind === 'update' ? `${this.label}-u${loop}-${n}` : undefined;
      const answer =
        kind === 'read'
          ? await send(this.base, 'GET', '/api/v1/deployments?limit=5', token, undefined, this.timeoutMs)
          : kind === 'update'
            ? await send(
                this.base,
                'PATCH',
                `/api/v1/deployments/${row}`,
                token,
                { status: value },
                this.timeoutMs,
              )
            : await send(
                this.base,
                'POST',
                '/api/v1/deployments',
                token,
                { project_name: `${this.label}-${n}`, status: 'ready' },
                this.timeoutMs,
              );
      this.outcomes.push({
        tenant,
        kind,
        started,
        ms: answer.ms,
        status: answer.status,
        code: answer.body?.error?.code,
        retryAfter: answer.headers?.get('retry-after') ?? null,
        id: kind === 'update' ? row : answer.status === 201 ? answer.body?.id : undefined,
        ...(value === undefined ? {} : { value }),
        error: answer.error,
      });
      await sleep(pauseMs);
    }
  }

  /** Resolves once every tenant has had a read and a write succeed (the service is warmed up). */
  async warmedUp(tenants: string[]): Promise<void> {
    const deadline = performance.now() + 10000;
    for (;;) {
      const ok = tenants.every((tenant) =>
        (['read', 'write'] as const).every((kind) =>
          this.outcomes.some((o) => o.tenant === tenant && o.kind === kind && o.status < 300),
        ),
      );
      if (ok) return;
      if (performance.now() > deadline) throw new Error(`no warm-up: ${summary(this.outcomes)}`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }
}

/** Counts of `status code` pairs, for failure messages. */
export function summary(outcomes: Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    const key = `${o.status}${o.code ? ` ${o.code}` : ''}${o.error ? ` ${o.error}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return JSON.stringify(Object.fromEntries(counts));
}

/** What the service wrote that is not a JSON log line (a crash report), else its last log lines. */
export function logTail(service: ChildService): string {
  const lines = service.stderr().split('\n');
  const report = lines.filter((line) => line !== '' && !line.startsWith('{'));
  return (report.length > 0 ? report.slice(0, 12) : lines.slice(-10)).join('\n');
}
