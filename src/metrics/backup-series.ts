import { Gauge } from 'prom-client';
import type { BackupHealthSummary } from '../backup/monitoring/backup-health.js';
import { type Metrics, OTHER_TENANTS } from './metrics.js';

/** Where the backup series come from: the catalog (BackupHealth). */
export interface BackupHealthSource {
  summary(labelled: string[]): Promise<BackupHealthSummary>;
}

export interface BackupSeriesOptions {
  /** A finished read serves later scrapes for this many ms. Default 0: one catalog query per scrape. */
  cacheMs?: number;
  /** A scrape waits this long for the catalog before leaving the series out, in ms. Default 2000. */
  timeoutMs?: number;
}

/**
 * The backup series on /metrics, all from one catalog query per scrape (see BackupHealth.summary):
 * `tenantplane_tenant_last_backup_age_seconds` for the tenants labelled in the per-tenant request counter
 * (at most METRICS_TENANT_LABELS) and the oldest of the rest under `tenant="__other__"`,
 * `tenantplane_backups_overdue`, `tenantplane_backup_drills_failed` and `tenantplane_backup_stored_bytes`
 * per tier. A catalog that does not answer leaves them out of the scrape rather than holding it.
 */
export function watchBackupHealth(
  metrics: Metrics,
  source: BackupHealthSource,
  options: BackupSeriesOptions = {},
): void {
  const cacheMs = options.cacheMs ?? 0;
  const timeoutMs = options.timeoutMs ?? 2000;
  // The gauges of one scrape collect at once (prom-client gathers them with Promise.all): they share the
  // read in flight, and a finished read serves for `cacheMs` more.
  let cached: { summary: Promise<BackupHealthSummary | undefined>; settledAt?: number } | undefined;
  const read = (): Promise<BackupHealthSummary | undefined> => {
    if (cached && (cached.settledAt === undefined || performance.now() - cached.settledAt <= cacheMs)) {
      return cached.summary;
    }
    const labelled = metrics.tenants.counts().map(([tenant]) => tenant);
    const timeout = new Promise<undefined>((resolve) => {
      setTimeout(() => resolve(undefined), timeoutMs).unref();
    });
    const entry: NonNullable<typeof cached> = {
      summary: Promise.race([source.summary(labelled).catch(() => undefined), timeout]),
    };
    cached = entry;
    void entry.summary.then((value) => {
      entry.settledAt = performance.now();
      // A read that failed or timed out is not kept: the next scrape asks again.
      if (value === undefined && cached === entry) cached = undefined;
    });
    return entry.summary;
  };
  const registers = [metrics.registry];
  new Gauge({
    name: 'tenantplane_tenant_last_backup_age_seconds',
    help: `Seconds since the newest complete backup, for the tenants labelled in tenantplane_tenant_requests_total; tenant="${OTHER_TENANTS}" is the oldest of the rest`,
    labelNames: ['tenant'],
    registers,
    async collect() {
      this.reset();
      const summary = await read();
      if (!summary) return;
      for (const [tenant, age] of summary.ages) this.set({ tenant }, age);
      if (summary.otherMaxAge !== null) this.set({ tenant: OTHER_TENANTS }, summary.otherMaxAge);
    },
  });
  const single = (name: string, help: string, value: (summary: BackupHealthSummary) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.reset();
        const summary = await read();
        if (summary) this.set(value(summary));
      },
    });
  single(
    'tenantplane_backups_overdue',
    'Active tenants of scheduled tiers whose newest complete backup is older than 1.5 times the cadence (or who have none)',
    (summary) => summary.overdue,
  );
  single(
    'tenantplane_backup_drills_failed',
    'Tenants whose last restore drill failed',
    (summary) => summary.drillsFailed,
  );
  new Gauge({
    name: 'tenantplane_backup_stored_bytes',
    help: 'Bytes of complete backups in the backup store, per tier (summed at most once a minute)',
    labelNames: ['tier'],
    registers,
    async collect() {
      this.reset();
      const summary = await read();
      if (!summary) return;
      for (const [tier, bytes] of summary.storedBytes) this.set({ tier }, bytes);
    },
  });
}
