import pg from 'pg';
import { mean, quantile } from '../lib/stats.js';
import type { ServerCredentials } from './setup.js';

export interface ConnectCost {
  database: string;
  connections: number;
  /** Time of `connect()` alone: TCP, startup, authentication, a backend forked and ready. */
  connectMs: { mean: number; p50: number; p99: number; max: number };
  /** Time of `connect()` plus `end()`. */
  roundMs: { mean: number; p50: number; p99: number };
}

function summary(values: number[]) {
  return {
    mean: mean(values),
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max: Math.max(...values),
  };
}

/**
 * What one new PostgreSQL connection costs on this machine: `count` connections opened and closed one after
 * another as the application role, straight to the server (no pooler), after a few unmeasured ones.
 */
export async function measureConnectCost(
  credentials: ServerCredentials,
  database: string,
  count = 200,
): Promise<ConnectCost> {
  const connect: number[] = [];
  const round: number[] = [];
  for (let i = -10; i < count; i++) {
    const client = new pg.Client({ ...credentials, database });
    const started = performance.now();
    await client.connect();
    const connected = performance.now();
    await client.end();
    if (i < 0) continue;
    connect.push(connected - started);
    round.push(performance.now() - started);
  }
  const { max: _max, ...roundMs } = summary(round);
  return { database, connections: count, connectMs: summary(connect), roundMs };
}
