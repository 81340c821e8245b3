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
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => this.#track(res));
  }

  /** Requests received and not yet answered. */
  get size(): number {
    return this.#responses.size;
  }

  #track(res: ServerResponse): void {
    this.#responses.add(res);
    if (this.#draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.#responses.delete(res);
      // A response whose headers went out before the drain leaves a keep-alive socket behind: close it now.
      if (this.#draining) setImmediate(() => this.#server.closeIdleConnections());
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
