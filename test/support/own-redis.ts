import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

/**
 * A redis-server of the test's own, on a free loopback port, that the test can kill (SIGKILL: gone at once,
 * as a crashed or unreachable Redis) and start again on the same port, empty (no persistence). The
 * machine's shared Redis is never touched.
 */
export interface OwnRedis {
  port: number;
  url: string;
  /** Whether the server process is running now. */
  readonly running: boolean;
  /** Starts the server (again) on `port` and resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills the server with SIGKILL and resolves once it has exited; nothing if it is not running. */
  kill(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A started OwnRedis; kill it in the test's after(). */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const own: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (own.running) return;
      const started = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        { stdio: 'ignore' },
      );
      child = started;
      let failed: Error | undefined;
      started.once('error', (error) => {
        failed = error;
      });
      const deadline = Date.now() + 10000;
      while (!(await accepts(port))) {
        if (failed) throw failed;
        if (started.exitCode !== null)
          throw new Error(`redis-server on ${port} exited with ${started.exitCode}`);
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not accept connections`);
        await sleep(50);
      }
    },
    async kill() {
      const running = child;
      if (!running || !own.running) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
  };
  await own.start();
  return own;
}
