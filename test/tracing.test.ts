import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { InlineJobQueue } from '../src/jobs/inline-job-queue.js';
import { instrumentedHandlers } from '../src/jobs/instrumented-handlers.js';
import { createLogger } from '../src/logging/logger.js';
import { tracingOn, withSpan } from '../src/tracing/spans.js';
import { startTracing, type TracingSdk } from '../src/tracing/tracing-sdk.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { type ChildService, request, startTenantctl } from './support/child-service.js';
import { finishedJob } from './support/job-status.js';
import { logSink } from './support/log-sink.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './support/otlp-receiver.js';
import type { TestPlane } from './support/test-plane.js';
import {
  CLIENT_KIND,
  CONSUMER_KIND,
  createTracedPlane,
  SERVER_KIND,
  startTracedServe,
  terminate,
  tracedEnv,
  tracedGet,
} from './support/traced-serve.js';

/** Polls until `find` finds something (a log line written once the response has gone). */
async function soon<T>(find: () => T | undefined): Promise<T> {
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    await sleep(20);
  }
}

/** The spans of one trace under `root`, at any depth. */
function descendants(spans: ReceivedSpan[], root: ReceivedSpan): ReceivedSpan[] {
  const found: ReceivedSpan[] = [];
  let parents = new Set([root.spanId]);
  while (parents.size > 0) {
    const children = spans.filter((span) => span.traceId === root.traceId && parents.has(span.parentSpanId));
    found.push(...children);
    parents = new Set(children.map((span) => span.spanId));
  }
  return found;
}

/** The `request` log lines a child service wrote (at debug). */
function requestLines(service: ChildService): Array<Record<string, unknown>> {
  return service
    .stderr()
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('tracing over OTLP', function () {
  this.timeout(120000);
  let plane: TestPlane;
  let receiver: OtlpReceiver;
  let tenantToken: string;
  let adminToken: string;
  const log = logSink();

  async function stop(service: ChildService): Promise<void> {
    expect(await terminate(service), service.stderr()).to.equal(0);
  }

  before(async () => {
    ({ plane, tenantToken, adminToken } = await createTracedPlane(createLogger('debug', log.stream)));
    receiver = await startOtlpReceiver();
  });
  after(async () => {
    await receiver?.close();
    await plane?.close();
  });

  describe('with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
    let service: ChildService;
    let worker: ChildService;
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');

    before(async () => {
      // Jobs go through BullMQ to a tenantctl worker: the job's trace crosses processes in its data.
      const jobs = { REDIS_URL: TEST_REDIS_URL, JOBS_PREFIX: `tptrace${randomBytes(4).toString('hex')}` };
      [service, worker] = await Promise.all([
        startTracedServe(plane, receiver.endpoint, jobs),
        startTenantctl(
          ['worker', '--health-port', '0'],
          tracedEnv(plane, receiver.endpoint, 'tenantplane-worker', jobs),
          'worker started',
          'healthPort',
        ),
      ]);
    });
    after(async () => {
      if (service) await stop(service);
      if (worker) await stop(worker);
    });

    it('continues the caller trace with a server span whose children verify, look up, acquire and query', async () => {
      const probeTraceId = randomBytes(16).toString('hex');
      const probe = await tracedGet(
        service.base,
        '/health',
        tenantToken,
        `00-${probeTraceId}-${callerSpanId}-01`,
      );
      expect(probe.status).to.equal(200);
      const answer = await tracedGet(
        service.base,
        '/api/v1/deployments',
        tenantToken,
        `00-${traceId}-${callerSpanId}-01`,
      );
      expect(answer.status, answer.body).to.equal(200);

      const server = await receiver.waitFor((spans) =>
        spans.find((span) => span.traceId === traceId && span.kind === SERVER_KIND),
      );
      expect(server.parentSpanId).to.equal(callerSpanId);
      expect(server.name).to.equal('GET /api/v1/deployments');
      expect(server.serviceName).to.equal('tenantplane-serve');
      expect(server.attributes).to.include({
        'http.request.method': 'GET',
        'http.route': '/api/v1/deployments',
        'http.response.status_code': 200,
        'tenant.id': 'traced-co',
        'tenant.tier': 'pro',
      });

      const children = await receiver.waitFor((spans) => {
        const found = descendants(spans, server);
        return found.some((span) => span.kind === CLIENT_KIND && span.attributes['tenant.id'])
          ? found
          : undefined;
      });
      const direct = (name: string) =>
        children.find((span) => span.name === name && span.parentSpanId === server.spanId);
      expect(direct('auth.verify_token')?.attributes).to.include({ 'tenant.id': 'traced-co' });
      const lookup = direct('catalog.lookup');
      expect(lookup?.attributes).to.include({ 'tenant.id': 'traced-co', 'tenant.tier': 'pro' });
      const databaseName = lookup?.attributes['db.name'];
      expect(databaseName)
        .to.be.a('string')
        .and.match(/shard_traced/);
      expect(direct('pool.acquire')?.attributes).to.include({
        'db.name': databaseName,
        'tenant.id': 'traced-co',
        'tenant.tier': 'pro',
      });
      const statement = children.find(
        (span) => span.kind === CLIENT_KIND && span.attributes['db.name'] === databaseName,
      );
      expect(statement?.parentSpanId).to.equal(server.spanId);
      expect(statement?.name).to.equal(`SELECT ${databaseName}`);
      expect(statement?.attributes).to.include({
        'db.system': 'postgresql',
        'db.operation.name': 'SELECT',
        'tenant.id': 'traced-co',
        'tenant.tier': 'pro',
      });
      // The statement's text and parameters stay out of the trace.
      expect(JSON.stringify(statement?.attributes)).not.to.include('traced-co"]');
      expect(Object.keys(statement?.attributes ?? {})).not.to.include('db.query.text');

      // The probe, answered before the request, would have been exported by now: probes are not traced.
      expect(receiver.spans().filter((span) => span.traceId === probeTraceId)).to.deep.equal([]);
      const line = requestLines(service).find((entry) => entry.trace_id === traceId);
      expect(line, 'the request log line carries the trace id').to.include({
        tenantId: 'traced-co',
        status: 200,
      });
    });

    it('traces a job a tenantctl worker runs from BullMQ as a child of the request that queued it, with its statements', async () => {
      const answer = await request(
        service.base,
        'POST',
        '/admin/v1/tenants/traced-co/exports',
        adminToken,
        {},
      );
      expect(answer.status, answer.body).to.equal(202);
      const queued = JSON.parse(answer.body) as { job_id: string };
      const admin = async (method: string, path: string) => {
        const reply = await request(service.base, method, path, adminToken);
        return { status: reply.status, body: JSON.parse(reply.body) };
      };
      expect((await finishedJob(admin, queued.job_id)).state).to.equal('completed');

      const job = await receiver.waitFor((spans) => spans.find((span) => span.name === 'job tenant-export'));
      expect(job.kind).to.equal(CONSUMER_KIND);
      expect(job.serviceName).to.equal('tenantplane-worker');
      expect(job.attributes).to.include({
        'job.queue': 'tenant-export',
        'job.attempt': 1,
        'tenant.id': 'traced-co',
      });
      const queuing = receiver
        .spans()
        .find((span) => span.spanId === job.parentSpanId && span.traceId === job.traceId);
      expect(queuing?.name).to.equal('POST /admin/v1/tenants/:id/exports');
      expect(queuing?.kind).to.equal(SERVER_KIND);
      expect(queuing?.serviceName).to.equal('tenantplane-serve');

      const statements = await receiver.waitFor((spans) => {
        const found = descendants(spans, job).filter((span) => span.kind === CLIENT_KIND);
        return found.some((span) => span.attributes['db.name'] !== found[0]?.attributes['db.name'])
          ? found
          : undefined;
      });
      const tenantStatements = statements.filter((span) =>
        /shard_traced/.test(String(span.attributes['db.name'])),
      );
      expect(tenantStatements, 'statements on the tenant database').not.to.be.empty;
      for (const span of tenantStatements) expect(span.attributes).to.include({ 'tenant.id': 'traced-co' });
    });

    it('traces a fleet migration run with a span for each database it migrates', async () => {
      const answer = await request(service.base, 'POST', '/admin/v1/migrations/runs', adminToken, {
        dry_run: true,
      });
      expect(answer.status, answer.body).to.equal(202);
      const queued = JSON.parse(answer.body) as { job_id: string };
      const admin = async (method: string, path: string) => {
        const reply = await request(service.base, method, path, adminToken);
        return { status: reply.status, body: JSON.parse(reply.body) };
      };
      expect((await finishedJob(admin, queued.job_id)).state).to.equal('completed');

      const run = await receiver.waitFor((spans) => spans.find((span) => span.name === 'job migration-run'));
      const databases = await receiver.waitFor((spans) => {
        const found = descendants(spans, run).filter((span) => span.name.startsWith('migrate '));
        return found.length > 0 ? found : undefined;
      });
      const shard = databases.find((span) => /shard_traced/.test(String(span.attributes['db.name'])));
      expect(shard?.parentSpanId).to.equal(run.spanId);
      expect(shard?.attributes).to.include({ 'db.system': 'postgresql' });
      const statements = await receiver.waitFor((spans) => {
        const found = descendants(spans, shard!).filter((span) => span.kind === CLIENT_KIND);
        return found.length > 0 ? found : undefined;
      });
      expect(statements.map((span) => span.attributes['db.name'])).to.include(shard?.attributes['db.name']);
    });
  });

  describe('an inline job queue (no REDIS_URL), in this process', () => {
    let sdk: TracingSdk | undefined;

    before(async () => {
      // The exporter reads its endpoint from the process environment, as `tenantctl` does.
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.endpoint;
      process.env.OTEL_BSP_SCHEDULE_DELAY = '50';
      sdk = await startTracing(process.env, plane.tp.logger);
    });
    after(async () => {
      await sdk?.shutdown();
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    });

    it('runs a job under a span that is a child of the span that queued it', async () => {
      const queue = new InlineJobQueue(
        instrumentedHandlers({ 'traced-inline': async () => 'done' }, { recordJob: () => {} }),
      );
      const caller = await withSpan('queue the job', {}, async (span) => {
        await queue.enqueue('traced-inline', { tenantId: 'traced-co' }, { jobId: 'inline-1', attempts: 1 });
        return span!.spanContext();
      });
      expect(await queue.wait('traced-inline', 'inline-1')).to.equal('done');
      await queue.close();
      await sdk?.shutdown();
      const job = await receiver.waitFor((spans) => spans.find((span) => span.name === 'job traced-inline'));
      expect(job).to.include({ traceId: caller.traceId, parentSpanId: caller.spanId, kind: CONSUMER_KIND });
      expect(job.attributes).to.include({
        'job.queue': 'traced-inline',
        'job.attempt': 1,
        'tenant.id': 'traced-co',
      });
      expect(tracingOn(), 'shutting the SDK down turns tracing off again').to.equal(false);
    });
  });

  describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    it('starts no SDK: the request path records no spans and logs no trace ids', async () => {
      expect(await startTracing({}, plane.tp.logger)).to.equal(undefined);
      expect(await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, plane.tp.logger)).to.equal(undefined);
      expect(
        await startTracing(
          { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SDK_DISABLED: 'true' },
          plane.tp.logger,
        ),
      ).to.equal(undefined);
      expect(tracingOn()).to.equal(false);

      // This process started no SDK: its plane serves as `tenantctl serve` does without the variable.
      const base = await plane.listen();
      const traceId = randomBytes(16).toString('hex');
      const answer = await tracedGet(
        base,
        '/api/v1/deployments',
        tenantToken,
        `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      );
      expect(answer.status, answer.body).to.equal(200);
      const line = await soon(() =>
        log.lines
          .map((text) => JSON.parse(text) as Record<string, unknown>)
          .find((entry) => entry.msg === 'request' && entry.tenantId === 'traced-co'),
      );
      expect(line).to.include({ status: 200 });
      expect(line).not.to.have.property('trace_id');
      expect(receiver.spans().filter((span) => span.traceId === traceId)).to.deep.equal([]);
    });
  });
});
