import net from 'node:net';
import { TEST_POSTGRES_URL } from '../setup/hooks.js';

/** One client connection through the proxy. */
export interface ProxiedConnection {
  /** The `application_name` its startup message carried ('' for none). */
  applicationName: string;
  /** It sent a LISTEN: it is a connection that waits for notifications. */
  listens: boolean;
  held: boolean;
}

export interface PgProxy {
  port: number;
  /** A URL for `database` on the test PostgreSQL, through the proxy. */
  url(database: string): string;
  /**
   * Stops forwarding, in both directions and without closing anything, every connection (open now or
   * opened later) that `picks` chooses, looked at again when it sends a LISTEN: to its client it looks like
   * a network path that silently went dark. Bytes wait in the sockets' buffers.
   */
  hold(picks: (connection: ProxiedConnection) => boolean): void;
  /**
   * Closes every connection (open now or opened later) that `picks` chooses: open ones at once, new ones as
   * soon as their startup message is read, before anything reaches the server. To its client it looks like
   * a database that went away and refuses connections. Until `release()`.
   */
  cut(picks: (connection: ProxiedConnection) => boolean): void;
  /** Forwards everything again, what waited first, and ends a cut. */
  release(): void;
  connections(): ProxiedConnection[];
  close(): Promise<void>;
}

const SSL_REQUEST_CODE = 80877103;

/** The application_name of a PostgreSQL startup message (length, protocol, then name\0value\0 pairs). */
function applicationNameOf(startup: Buffer): string {
  if (startup.readInt32BE(4) === SSL_REQUEST_CODE) return '';
  const fields = startup.subarray(8, startup.readInt32BE(0)).toString('utf8').split('\0');
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === 'application_name') return fields[index + 1]!;
  }
  return '';
}

/**
 * A TCP proxy in front of the test PostgreSQL that can go silent for chosen connections, picked by the
 * application_name in their startup message (sent in clear text), while the rest flow normally. Nothing is
 * faked: the client and server are real, only the path between them stops carrying bytes.
 */
export async function startPgProxy(): Promise<PgProxy> {
  const target = new URL(TEST_POSTGRES_URL);
  const sockets = new Set<net.Socket>();
  const connections = new Set<ProxiedConnection & { flow(): void; stop(): void; close(): void }>();
  let picks: ((connection: ProxiedConnection) => boolean) | undefined;
  let cuts: ((connection: ProxiedConnection) => boolean) | undefined;

  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => {});
    }
    let startup = Buffer.alloc(0);
    let waiting: Buffer[] = [];
    const connection = {
      applicationName: '',
      listens: false,
      held: false,
      flow() {
        connection.held = false;
        for (const chunk of waiting) upstream.write(chunk);
        waiting = [];
        client.resume();
        upstream.resume();
      },
      stop() {
        connection.held = true;
        client.pause();
        upstream.pause();
      },
      close() {
        client.destroy();
        upstream.destroy();
      },
    };
    // Until the startup message is complete nothing is forwarded, so a held connection never reaches the server.
    const readStartup = (chunk: Buffer) => {
      startup = Buffer.concat([startup, chunk]);
      if (startup.length < 8 || startup.length < startup.readInt32BE(0)) return;
      client.off('data', readStartup);
      connection.applicationName = applicationNameOf(startup);
      if (cuts?.(connection)) {
        connection.close();
        return;
      }
      connections.add(connection);
      client.on('close', () => connections.delete(connection));
      client.on('data', (data: Buffer) => {
        // A simple-protocol LISTEN travels in clear text; held before it reaches the server if picked now.
        if (!connection.listens && data.includes('LISTEN ')) {
          connection.listens = true;
          if (picks?.(connection)) {
            waiting.push(data);
            connection.stop();
            return;
          }
        }
        upstream.write(data);
      });
      upstream.on('data', (data: Buffer) => client.write(data));
      waiting.push(startup);
      if (picks?.(connection)) connection.stop();
      else connection.flow();
    };
    client.on('data', readStartup);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url(database) {
      const url = new URL(TEST_POSTGRES_URL);
      url.host = `127.0.0.1:${port}`;
      url.pathname = `/${database}`;
      return url.toString();
    },
    hold(chosen) {
      picks = chosen;
      for (const connection of connections) if (chosen(connection)) connection.stop();
    },
    cut(chosen) {
      cuts = chosen;
      for (const connection of connections) if (chosen(connection)) connection.close();
    },
    release() {
      picks = undefined;
      cuts = undefined;
      for (const connection of connections) if (connection.held) connection.flow();
    },
    connections: () =>
      [...connections].map(({ applicationName, listens, held }) => ({ applicationName, listens, held })),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
