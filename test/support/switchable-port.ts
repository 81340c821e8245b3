import net from 'node:net';
import { TEST_POSTGRES_URL } from '../setup/hooks.js';

/**
 * A TCP port in front of the test PostgreSQL that can be closed and opened again: a second server
 * registration behind it becomes unreachable, then reachable, at will. It keeps its port number across a
 * close and the next open.
 */
export class SwitchablePort {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  async open(): Promise<void> {
    const target = new URL(TEST_POSTGRES_URL);
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => (this.#server ? this.#server.close(resolve) : resolve(undefined)));
    this.#server = undefined;
  }
}
