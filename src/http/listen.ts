import type { Server } from 'node:http';

/** Starts `server` on `port` (0: any free one), resolving once it listens and rejecting if it cannot. */
export function listen(server: Server, port: number, host?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
