import { useQuery } from '@tanstack/react-query';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';

const HOUR_MS = 3_600_000;
const HOURS = 24;

// Drawn in viewBox units; the SVG scales to its box. Colours are the stylesheet's --accent, --danger, --ok
// and --muted, given as attributes: the console's CSP allows no style attribute.
const WIDTH = 720;
const HEIGHT = 180;
const PLOT = { left: 56, right: 664, top: 12, bottom: 150 };
const REQUESTS_COLOUR = '#0b57d0';
const ERRORS_COLOUR = '#b3261e';
const DB_TIME_COLOUR = '#146c2e';
const LABEL_COLOUR = '#4a5360';

/** One hour of the chart: metered counts, zero when nothing was metered in it. */
interface TrafficHour {
  start: number;
  requests: number;
  errors: number;
  /** Database time per request in ms; null for an hour without requests. */
  dbMsPerRequest: number | null;
}

/** The last 24 whole and current hours (UTC), oldest first, filled in from the metered periods. */
function lastDay(periods: Schemas['UsagePeriod'][], firstHour: number): TrafficHour[] {
  const byStart = new Map(periods.map((period) => [Date.parse(period.period_start), period]));
  return Array.from({ length: HOURS }, (_, index) => {
    const start = firstHour + index * HOUR_MS;
    const period = byStart.get(start);
    const requests = period?.requests ?? 0;
    return {
      start,
      requests,
      errors: period?.errors ?? 0,
      dbMsPerRequest: period && requests > 0 ? period.db_time_ms / requests : null,
    };
  });
}

function hourLabel(start: number): string {
  return `${new Date(start).toISOString().slice(11, 16)} UTC`;
}

function summary(hours: TrafficHour[]): string {
  const requests = hours.reduce((sum, hour) => sum + hour.requests, 0);
  const errors = hours.reduce((sum, hour) => sum + hour.errors, 0);
  const dbMs = hours.reduce((sum, hour) => sum + (hour.dbMsPerRequest ?? 0) * hour.requests, 0);
  const perRequest = requests === 0 ? 'none' : `${(dbMs / requests).toFixed(1)} ms`;
  return `Last 24 hours: ${requests} requests, ${errors} errors, database time per request ${perRequest}`;
}

/** Requests and errors per hour as bars, database time per request as a line on its own scale. */
function TrafficChart({ hours }: { hours: TrafficHour[] }) {
  const maxRequests = Math.max(1, ...hours.map((hour) => hour.requests));
  const maxDbMs = Math.max(...hours.map((hour) => hour.dbMsPerRequest ?? 0)) || 1;
  const slot = (PLOT.right - PLOT.left) / HOURS;
  const plotHeight = PLOT.bottom - PLOT.top;
  const barHeight = (count: number) => (count / maxRequests) * plotHeight;
  const dbPoints = hours.flatMap((hour, index) =>
    hour.dbMsPerRequest === null
      ? []
      : [
          {
            x: PLOT.left + (index + 0.5) * slot,
            y: PLOT.bottom - (hour.dbMsPerRequest / maxDbMs) * plotHeight,
          },
        ],
  );
  return (
    <svg
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      width="100%"
      height={HEIGHT}
      role="img"
      aria-label={summary(hours)}
      preserveAspectRatio="xMinYMin meet"
    >
      <line x1={PLOT.left} y1={PLOT.bottom} x2={PLOT.right} y2={PLOT.bottom} stroke={LABEL_COLOUR} />
      <text x={PLOT.left - 6} y={PLOT.top + 10} textAnchor="end" fontSize="11" fill={REQUESTS_COLOUR}>
        {maxRequests} req
      </text>
      <text x={PLOT.right + 6} y={PLOT.top + 10} fontSize="11" fill={DB_TIME_COLOUR}>
        {maxDbMs.toFixed(1)} ms
      </text>
      {hours.map((hour, index) => {
        const x = PLOT.left + index * slot + 1;
        return (
          <g key={hour.start}>
            <rect
              x={x}
              y={PLOT.bottom - barHeight(hour.requests)}
              width={slot - 2}
              height={barHeight(hour.requests)}
              fill={REQUESTS_COLOUR}
            />
            <rect
              x={x}
              y={PLOT.bottom - barHeight(hour.errors)}
              width={slot - 2}
              height={barHeight(hour.errors)}
              fill={ERRORS_COLOUR}
            />
            {index % 6 === 0 ? (
              <text x={x} y={PLOT.bottom + 16} fontSize="11" fill={LABEL_COLOUR}>
                {hourLabel(hour.start)}
              </text>
            ) : null}
          </g>
        );
      })}
      {dbPoints.length > 1 ? (
        <polyline
          points={dbPoints.map((point) => `${point.x},${point.y}`).join(' ')}
          fill="none"
          stroke={DB_TIME_COLOUR}
          strokeWidth="2"
        />
      ) : null}
      {dbPoints.map((point) => (
        <circle key={point.x} cx={point.x} cy={point.y} r="3" fill={DB_TIME_COLOUR} />
      ))}
    </svg>
  );
}

/**
 * The tenant's traffic over the last 24 hours from usage metering (GET /admin/v1/tenants/{id}/usage,
 * hourly), as a chart and, for screen readers and exact figures, a table of the hours with requests.
 */
export function TenantTraffic({ id }: { id: string }) {
  const firstHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (HOURS - 1) * HOUR_MS;
  const usage = useQuery({
    queryKey: ['tenant', id, 'traffic'],
    queryFn: () =>
      data(
        api.GET('/admin/v1/tenants/{id}/usage', {
          params: {
            path: { id },
            query: { granularity: 'hour', from: new Date(firstHour).toISOString() },
          },
        }),
      ),
    refetchInterval: 60_000,
  });
  const hours = usage.data ? lastDay(usage.data.data, firstHour) : [];
  const busy = hours.filter((hour) => hour.requests > 0);
  return (
    <section aria-labelledby="traffic-heading">
      <h2 id="traffic-heading">Traffic</h2>
      <ErrorMessage error={usage.error} />
      {usage.data ? (
        <>
          <p>
            Requests per hour (blue bars, errors in red) and database time per request (green line, own
            scale), in UTC.
          </p>
          <TrafficChart hours={hours} />
          {busy.length === 0 ? (
            <p>No requests in the last 24 hours.</p>
          ) : (
            <table className="list" aria-label="Traffic per hour">
              <thead>
                <tr>
                  <th scope="col">Hour</th>
                  <th scope="col">Requests</th>
                  <th scope="col">Errors</th>
                  <th scope="col">Database time per request</th>
                </tr>
              </thead>
              <tbody>
                {busy.map((hour) => (
                  <tr key={hour.start}>
                    <td>{hourLabel(hour.start)}</td>
                    <td>{hour.requests}</td>
                    <td>{hour.errors}</td>
                    <td>{(hour.dbMsPerRequest ?? 0).toFixed(1)} ms</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : null}
    </section>
  );
}
