import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * The requests an HTTP server is answering, so that shutdown can wait for exactly those. Attach it right
 * after the server starts listening.
 *
 * `drain()` stops accepting connections and closes idle keep-alive ones at once; a response still being
 * worked on goes out with `Connection: close`, so its socket closes once it is sent instead of lingering
 * until the keep-alive timeout.
 */
export class InFlightRequests {
  readonly #server: Server;
  readonly #responses = new Set<ServerResponse>();
  #draining = false;

  constructor(server: Server) {
    this.#server = server;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#track(req, res));
  }

  /** Requests received and not yet answered. */
  get size(): number {
    return this.#responses.size;
  }

  #track(req: IncomingMessage, res: ServerResponse): void {
    this.#responses.add(res);
    if (this.#draining) res.setHeader('Connection', 'close');
    const socket = req.socket;
    res.once('close', () => {
      this.#responses.delete(res);
      // A response whose headers went out before the drain kept its connection open for a next request:
      // end that connection once the response is written. end(), not destroy(): destroying could cut off
      // the response's last bytes still being flushed.
      if (this.#draining && res.getHeader('Connection') !== 'close') socket.end();
    });
  }

  /** Stops accepting and resolves once every connection has closed (so every request was answered). */
  drain(): Promise<void> {
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const res of this.#responses) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    }
    this.#server.closeIdleConnections();
    return closed;
  }

  /** The grace period is over: cut every connection, answered or not. */
  abort(): void {
    this.#server.closeAllConnections();
  }
}
