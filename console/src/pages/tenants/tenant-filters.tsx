import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, data } from '../../api/client';
import type { paths } from '../../api/schema';

/** The list route's query, as the served OpenAPI document declares it. */
export type TenantListQuery = NonNullable<paths['/admin/v1/tenants']['get']['parameters']['query']>;
type ListedStatus = NonNullable<TenantListQuery['status']>;

/** The list's filters, as GET /admin/v1/tenants takes them; empty means "any". */
export interface TenantFilter {
  q: string;
  tier: string;
  status: ListedStatus | '';
  server: string;
  region: string;
}

export const NO_FILTER: TenantFilter = { q: '', tier: '', status: '', server: '', region: '' };

const STATUSES: ListedStatus[] = ['provisioning', 'active', 'suspended', 'moving', 'deleting'];

/** Search and filters, applied together on submit so that each change is one request, not one per key. */
export function TenantFilters({ onApply }: { onApply: (filter: TenantFilter) => void }) {
  const [filter, setFilter] = useState(NO_FILTER);
  const tiers = useQuery({
    queryKey: ['tiers'],
    queryFn: () => data(api.GET('/admin/v1/tiers')),
    staleTime: 60_000,
  });
  const set = (name: keyof TenantFilter) => (event: { target: { value: string } }) =>
    setFilter({ ...filter, [name]: event.target.value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(filter);
  };
  return (
    <search>
      <form className="filters" onSubmit={submit}>
        <div className="field">
          <label htmlFor="tenant-q">Search id or name</label>
          <input id="tenant-q" type="search" value={filter.q} onChange={set('q')} maxLength={100} />
        </div>
        <div className="field">
          <label htmlFor="tenant-tier">Tier</label>
          <select id="tenant-tier" value={filter.tier} onChange={set('tier')}>
            <option value="">any</option>
            {tiers.data?.data.map((tier) => (
              <option key={tier.id} value={tier.id}>
                {tier.id}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="tenant-status">Status</label>
          <select id="tenant-status" value={filter.status} onChange={set('status')}>
            <option value="">any</option>
            {STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="tenant-server">Server</label>
          <input id="tenant-server" value={filter.server} onChange={set('server')} maxLength={40} />
        </div>
        <div className="field">
          <label htmlFor="tenant-region">Region</label>
          <input id="tenant-region" value={filter.region} onChange={set('region')} maxLength={40} />
        </div>
        <button type="submit">Search</button>
      </form>
    </search>
  );
}
