import type { Schemas } from '../../api/client';

/** Each limit with its use as a bar (a `<meter>`, which screen readers read as a value within a range). */
export function QuotaBars({ tenant }: { tenant: Schemas['TenantDetail'] }) {
  const limits = Object.entries(tenant.limits ?? {}).filter(([name]) => name !== 'requests_per_minute');
  return (
    <section aria-labelledby="limits-heading">
      <h2 id="limits-heading">Limits and usage</h2>
      <p>Requests per minute: {tenant.limits?.requests_per_minute ?? 'unlimited'}</p>
      {tenant.usage === null ? <p>Usage is unknown while the tenant's server is unreachable.</p> : null}
      <dl className="quotas">
        {limits.map(([name, max]) => {
          const used = tenant.usage?.[name];
          const id = `quota-${name}`;
          return (
            <div key={name} className="quota">
              <dt id={id}>{name.replaceAll('_', ' ')}</dt>
              <dd>
                {typeof max === 'number' && typeof used === 'number' ? (
                  <meter aria-labelledby={id} min={0} max={max} value={Math.min(used, max)} high={max * 0.9}>
                    {used} of {max}
                  </meter>
                ) : null}{' '}
                {used ?? '?'} of {max ?? 'unlimited'}
              </dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}
