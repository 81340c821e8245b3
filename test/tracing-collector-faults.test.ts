import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { type ChildService, request } from './support/child-service.js';
import { freePort } from './support/free-port.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import type { TestPlane } from './support/test-plane.js';
import {
  createTracedPlane,
  SERVER_KIND,
  startTracedServe,
  TRACED_TENANT,
  terminate,
  tracedGet,
} from './support/traced-serve.js';

/** How long SIGTERM may take to end `serve` before the test calls it hung (shutdown's grace is 10 s). */
const EXIT_DEADLINE_MS = 20000;

/** A collector that accepts connections and never answers: each export waits for the exporter's timeout. */
async function silentCollector(): Promise<{
  endpoint: string;
  connections(): number;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface FlakyCollector {
  endpoint: string;
  /** While true, every export is answered 503. */
  down: boolean;
  /** Exports answered 503 so far. */
  refused: number;
  close(): Promise<void>;
}

/**
 * A collector in front of `receiver` that answers 503 to every export while `down` (a collector restarting
 * behind its load balancer), and passes exports on to the receiver otherwise. Starts down.
 */
async function flakyCollector(receiver: OtlpReceiver): Promise<FlakyCollector> {
  const target = new URL(receiver.endpoint);
  const server = http.createServer((req, res) => {
    if (collector.down) {
      req.resume();
      req.on('end', () => {
        collector.refused += 1;
        res.writeHead(503).end();
      });
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const collector: FlakyCollector = {
    endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    down: true,
    refused: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return collector;
}

/** Polls `ready` until it holds; fails with `what` past the deadline. */
async function until(what: string, ready: () => boolean, deadlineMs = 20000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`not within ${deadlineMs} ms: ${what}`);
    await sleep(50);
  }
}

/** Lines of the service's log that are the exporter's failures (stack traces, connection errors). */
function exportFailureLines(service: ChildService): string[] {
  return service
    .stderr()
    .split('\n')
    .filter((line) => /ECONNREFUSED|Request timed out|OTLPExporterError|export failed/i.test(line));
}

describe('tracing with an OTLP collector that is down or misbehaving', function () {
  this.timeout(120000);
  let plane: TestPlane;
  let tenantToken: string;
  const services: ChildService[] = [];

  /** Routed tenant requests and probes, each of which must succeed. */
  async function serveTraffic(service: ChildService, rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      const routed = await request(service.base, 'GET', '/api/v1/deployments', tenantToken);
      expect(routed.status, routed.body).to.equal(200);
      const health = await request(service.base, 'GET', '/health');
      expect(health.status, health.body).to.equal(200);
    }
  }

  async function serve(endpoint: string, extra: NodeJS.ProcessEnv = {}): Promise<ChildService> {
    const service = await startTracedServe(plane, endpoint, extra);
    services.push(service);
    return service;
  }

  before(async () => {
    ({ plane, tenantToken } = await createTracedPlane());
  });
  after(async () => {
    for (const service of services) {
      if (service.child.exitCode === null && service.child.signalCode === null) {
        service.child.kill('SIGKILL');
        await service.exited;
      }
    }
    await plane?.close();
  });

  it('serves every request with the collector refusing connections, and shuts down on SIGTERM', async () => {
    // The exporter retries a refused export for up to OTEL_EXPORTER_OTLP_TIMEOUT (10 s, by default); a
    // shutdown that waited for that would outlast a grace period of 7 s and exit 1.
    const service = await serve(`http://127.0.0.1:${await freePort()}`, { SHUTDOWN_GRACE_MS: '7000' });
    await serveTraffic(service, 10);
    // Several batch delays (100 ms) pass: exports are attempted, refused and retried behind the requests.
    await sleep(1000);
    await serveTraffic(service, 10);

    expect(await terminate(service, EXIT_DEADLINE_MS), service.stderr()).to.equal(0);
    expect(service.stderr()).to.include('"msg":"shut down"');
    // At most the one warning about the last spans: no line per request or per failed export.
    expect(exportFailureLines(service), service.stderr()).to.have.length.at.most(1);
  });

  it('serves every request with a collector that never answers, and shuts down on SIGTERM', async () => {
    const collector = await silentCollector();
    try {
      const service = await serve(collector.endpoint);
      await serveTraffic(service, 5);
      await until('the exporter connects to the collector', () => collector.connections() > 0);
      // An export is now waiting on the collector; requests do not wait for it.
      await serveTraffic(service, 10);

      expect(await terminate(service, EXIT_DEADLINE_MS), service.stderr()).to.equal(0);
      expect(service.stderr()).to.include('"msg":"shut down"');
      expect(exportFailureLines(service), service.stderr()).to.have.length.at.most(1);
    } finally {
      await collector.close();
    }
  });

  it('delivers the spans of requests made once a collector answering 503 is back', async () => {
    const receiver = await startOtlpReceiver();
    const collector = await flakyCollector(receiver);
    try {
      const service = await serve(collector.endpoint);
      await serveTraffic(service, 5);
      await until('the collector refuses an export', () => collector.refused > 0);
      await serveTraffic(service, 5);

      collector.down = false;
      const traceId = randomBytes(16).toString('hex');
      const answer = await tracedGet(
        service.base,
        '/api/v1/deployments',
        tenantToken,
        `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      );
      expect(answer.status, answer.body).to.equal(200);
      const server = await receiver.waitFor((spans) =>
        spans.find((span) => span.traceId === traceId && span.kind === SERVER_KIND),
      );
      expect(server.attributes).to.include({
        'http.route': '/api/v1/deployments',
        'tenant.id': TRACED_TENANT,
      });

      expect(await terminate(service, EXIT_DEADLINE_MS), service.stderr()).to.equal(0);
    } finally {
      await collector.close();
      await receiver.close();
    }
  });
});
