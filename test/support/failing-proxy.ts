import { createServer, type IncomingMessage, request } from 'node:http';

export interface FailingProxy {
  endpoint: string;
  /** Requests answered with the injected 500. */
  failed: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a real service (moto) that answers the requests `fails` picks with a 500, so a
 * test can see what the client does when the service itself fails partway (not a mock: the rest is real).
 */
export async function startFailingProxy(
  target: string,
  fails: (request: IncomingMessage) => boolean,
): Promise<FailingProxy> {
  const upstream = new URL(target);
  const proxy: FailingProxy = { endpoint: '', failed: 0, close: async () => {} };
  const server = createServer((incoming, outgoing) => {
    if (fails(incoming)) {
      proxy.failed += 1;
      incoming.resume();
      incoming.once('end', () => {
        outgoing.writeHead(500, { 'content-type': 'application/xml' });
        outgoing.end('<Error><Code>InternalError</Code><Message>injected by the test</Message></Error>');
      });
      return;
    }
    const forwarded = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    forwarded.once('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
