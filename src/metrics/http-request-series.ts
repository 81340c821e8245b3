/** Upper bounds, in seconds, of the request duration histogram's buckets. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const REQUESTS = 'tenantplane_http_requests_total';
const DURATION = 'tenantplane_http_request_duration_seconds';

/**
 * The route label of a request that no route answered. Outside every mount the path matched nothing at
 * all: `unmatched`. Inside a mount (`/api/v1`, `/admin/v1`) it was refused before a route took it
 * (authentication, tenant, rate limit, body) or no route there has its path: `/api/v1 (unrouted)`, so the
 * mounts stay apart. No route pattern contains a space, so neither can be mistaken for one.
 */
export function unroutedLabel(mountPath: string): string {
  return mountPath === '' ? 'unmatched' : `${mountPath} (unrouted)`;
}

/** One label set's figures; its label text is written once, when the series first appears. */
interface Series {
  labels: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is for those above every bound. */
  buckets: Float64Array;
}

type Level<T> = Map<string, T>;

/** Label values in the text format: backslash, double quote and line feed escaped. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The map under `key`, made (and kept) if there is none yet. */
function inner<K, V extends Map<unknown, unknown>>(map: Map<K, V>, key: K, make: () => V): V {
  let next = map.get(key);
  if (next === undefined) {
    next = make();
    map.set(key, next);
  }
  return next;
}

/**
 * The request counter and duration histogram by tenant tier, route, method and status, kept as plain
 * numbers and written in the Prometheus text format when scraped.
 *
 * These are the only series touched on every request. prom-client builds a label hash string for each
 * increment and observation and turns the bucket bound into a property name, which on a busy service was a
 * measurable share of each request's instructions and garbage. Here a request looks its series up through
 * maps keyed by strings it already has (mount path and route pattern separately, so no label string is
 * built) and adds to numbers; a series' label text is made once.
 */
export class HttpRequestSeries {
  readonly #series: Level<Level<Level<Level<Map<number, Series>>>>> = new Map();
  /** Every series once, by its label text: two lookup keys that make the same labels share one series. */
  readonly #byLabels = new Map<string, Series>();

  /**
   * One finished request. `mountPath` + `routePath` make the route label (`routePath` undefined: see
   * `unroutedLabel`).
   */
  record(
    tier: string,
    mountPath: string,
    routePath: string | undefined,
    method: string,
    status: number,
    seconds: number,
  ): void {
    const route = routePath ?? '';
    const series =
      this.#series.get(tier)?.get(mountPath)?.get(route)?.get(method)?.get(status) ??
      this.#create(tier, mountPath, routePath, method, status);
    series.count += 1;
    series.sum += seconds;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    series.buckets[bucket]! += 1;
  }

  #create(
    tier: string,
    mountPath: string,
    routePath: string | undefined,
    method: string,
    status: number,
  ): Series {
    const route = routePath === undefined ? unroutedLabel(mountPath) : `${mountPath}${routePath}`;
    const labels =
      `tier="${labelValue(tier)}",route="${labelValue(route)}",` +
      `method="${labelValue(method)}",status="${status}"`;
    // Prometheus drops every sample after the first of a label set on a page, so a label set is written
    // once whatever lookup keys lead to it.
    let series = this.#byLabels.get(labels);
    if (series === undefined) {
      series = { labels, count: 0, sum: 0, buckets: new Float64Array(DURATION_BUCKETS.length + 1) };
      this.#byLabels.set(labels, series);
    }
    const byMount = inner(this.#series, tier, () => new Map());
    const byRoute = inner(byMount, mountPath, () => new Map());
    const byMethod = inner(byRoute, routePath ?? '', () => new Map());
    inner(byMethod, method, () => new Map<number, Series>()).set(status, series);
    return series;
  }

  /** Both series in the Prometheus text format (version 0.0.4), ending with a line feed. */
  exposition(): string {
    const lines = [
      `# HELP ${REQUESTS} HTTP requests by tenant tier (none outside the application API), route pattern, method and status`,
      `# TYPE ${REQUESTS} counter`,
    ];
    for (const series of this.#byLabels.values()) lines.push(`${REQUESTS}{${series.labels}} ${series.count}`);
    lines.push(
      `# HELP ${DURATION} HTTP request latency by tenant tier, route pattern, method and status`,
      `# TYPE ${DURATION} histogram`,
    );
    for (const series of this.#byLabels.values()) {
      let cumulative = 0;
      DURATION_BUCKETS.forEach((bound, index) => {
        cumulative += series.buckets[index]!;
        lines.push(`${DURATION}_bucket{${series.labels},le="${bound}"} ${cumulative}`);
      });
      lines.push(`${DURATION}_bucket{${series.labels},le="+Inf"} ${series.count}`);
      lines.push(`${DURATION}_sum{${series.labels}} ${series.sum}`);
      lines.push(`${DURATION}_count{${series.labels}} ${series.count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
