import pg from 'pg';
import { adminUrlFor } from '../../test/support/test-plane.js';

export interface ConnectionPeak {
  /** Most connections of the role seen at once. */
  peak: number;
  /**
   * Most connections to the control database at once, on whichever server holds it: the catalog pools and
   * listeners of the services.
   */
  peakControl: number;
  /** Most client connections to the whole tenant server at once, whoever made them (other programs too). */
  peakAll: number;
  /** Mean over the samples. */
  mean: number;
  /** Connections of the role when sampling started (left over from before the case). */
  atStart: number;
  samples: number;
}

const SAMPLE_MS = 100;

interface Count {
  app: number;
  control: number;
  all: number;
}

/**
 * Counts the PostgreSQL connections of one role every 100 ms, on a superuser connection of its own that stays
 * open for the whole bench (a superuser connection also gets in when the server is full: the reserved slots).
 * tenantplane's pools and PgBouncer's server connections both log in as the application role, so this is the
 * number that must stay within the router's budget.
 */
export class ConnectionSampler {
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #counts: Count[] = [];
  #failures = 0;

  private constructor(
    private readonly client: pg.Client,
    /** A connection to the control database's server when that is another one, else undefined. */
    private readonly controlClient: pg.Client | undefined,
    private readonly role: string,
    /** Database-name prefix of this bench: new sessions are counted on its databases. */
    private readonly prefix: string,
    private readonly controlDatabase: string,
  ) {}

  /**
   * `controlServerUrl`: a superuser URL of the server that holds the control database, when it is not the
   * tenant server; its connections are then counted there.
   */
  static async open(
    role: string,
    prefix: string,
    controlDatabase: string,
    controlServerUrl?: string,
  ): Promise<ConnectionSampler> {
    const connect = async (connectionString: string) => {
      const client = new pg.Client({ connectionString });
      await client.connect();
      client.on('error', () => {});
      return client;
    };
    const client = await connect(adminUrlFor('postgres'));
    const controlClient = controlServerUrl ? await connect(controlServerUrl) : undefined;
    return new ConnectionSampler(client, controlClient, role, prefix, controlDatabase);
  }

  /** Connections of the role, to the control database, and of all clients, right now. */
  async count(): Promise<Count> {
    const tenantServer = this.client.query<Count>(
      `SELECT count(*) FILTER (WHERE usename = $1)::int AS app,
              count(*) FILTER (WHERE datname = $2)::int AS control,
              count(*) FILTER (WHERE backend_type = 'client backend')::int AS all
         FROM pg_stat_activity`,
      [this.role, this.controlDatabase],
    );
    const controlServer = this.controlClient?.query<{ control: number }>(
      'SELECT count(*)::int AS control FROM pg_stat_activity WHERE datname = $1',
      [this.controlDatabase],
    );
    const [{ rows }, control] = await Promise.all([tenantServer, controlServer]);
    const count = rows[0]!;
    return control ? { ...count, control: control.rows[0]!.control } : count;
  }

  /**
   * Sessions ever opened on the bench's tenant databases (`pg_stat_database.sessions`, PostgreSQL 14+). A
   * backend reports its session when its first transaction ends or when it exits, so read this a second or
   * so after the load stops.
   */
  async sessions(): Promise<number> {
    const { rows } = await this.client.query<{ sessions: string }>(
      `SELECT coalesce(sum(sessions), 0)::text AS sessions FROM pg_stat_database
        WHERE datname LIKE $1 AND datname <> $2`,
      [`${this.prefix}\\_%`, this.controlDatabase],
    );
    return Number(rows[0]!.sessions);
  }

  /** Waits (at most `maxSeconds`) until the role has no connections left; returns how many it still has. */
  async waitForNone(maxSeconds: number): Promise<number> {
    const deadline = Date.now() + maxSeconds * 1000;
    for (;;) {
      const { app } = await this.count();
      if (app === 0 || Date.now() > deadline) return app;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  start(): void {
    this.stopQuietly();
    this.#counts = [];
    this.#failures = 0;
    const counts = this.#counts;
    const tick = () => {
      if (this.#inFlight) return;
      this.#inFlight = true;
      this.count()
        // Into this run's array: a sample that lands after stop() cannot leak into the next run.
        .then((n) => counts.push(n))
        .catch(() => {
          this.#failures += 1;
        })
        .finally(() => {
          this.#inFlight = false;
        });
    };
    tick();
    this.#timer = setInterval(tick, SAMPLE_MS);
  }

  stop(): ConnectionPeak {
    this.stopQuietly();
    const counts = this.#counts;
    if (counts.length === 0 && this.#failures > 0) {
      throw new Error(`the connection sampler failed ${this.#failures} times and counted nothing`);
    }
    const most = (key: keyof Count) =>
      counts.length === 0 ? Number.NaN : Math.max(...counts.map((count) => count[key]));
    return {
      peak: most('app'),
      peakControl: most('control'),
      peakAll: most('all'),
      mean:
        counts.length === 0 ? Number.NaN : counts.reduce((sum, count) => sum + count.app, 0) / counts.length,
      atStart: counts[0]?.app ?? Number.NaN,
      samples: counts.length,
    };
  }

  private stopQuietly(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async close(): Promise<void> {
    this.stopQuietly();
    await this.client.end().catch(() => {});
    await this.controlClient?.end().catch(() => {});
  }
}
