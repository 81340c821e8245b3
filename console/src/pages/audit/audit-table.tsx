import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { Pager } from '../../components/pager';

/** The audit log, newest first, a page at a time; only one tenant's entries when `tenant` is given. */
export function AuditTable({ tenant, pageSize = 20 }: { tenant?: string; pageSize?: number }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = useQuery({
    queryKey: ['audit', tenant ?? null, cursor],
    queryFn: () =>
      data(
        api.GET('/admin/v1/audit', {
          params: {
            query: { limit: pageSize, ...(tenant ? { tenant } : {}), ...(cursor ? { cursor } : {}) },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <ErrorMessage error={page.error} />
      <table className="list" aria-label={tenant ? `Audit trail of ${tenant}` : 'Audit log'}>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            {tenant ? null : <th scope="col">Tenant</th>}
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.data.map((entry) => (
            <tr key={entry.id}>
              <td>{new Date(entry.at).toLocaleString()}</td>
              <td>{entry.actor}</td>
              <td>{entry.action}</td>
              {tenant ? null : <td>{entry.tenant_id ?? ''}</td>}
              <td>
                <code className="details">{JSON.stringify(entry.details)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager
        cursors={cursors}
        nextCursor={page.data?.next_cursor}
        onChange={setCursors}
        label={tenant ? 'Audit trail pages' : 'Audit log pages'}
      />
    </>
  );
}
