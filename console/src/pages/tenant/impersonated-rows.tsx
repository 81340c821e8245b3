import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { Pager } from '../../components/pager';
import { asTenant, grantKey, type ImpersonationGrant } from './impersonation-grant';
import { WriteAttempt } from './write-attempt';

const PAGE_SIZE = 20;

/** One page of the tenant's rows read with the grant; gcTime 0 drops them once the view is gone. */
function usePage<T>(
  grant: ImpersonationGrant,
  what: string,
  cursor: string | undefined,
  read: () => Promise<T>,
) {
  return useQuery({
    queryKey: grantKey(grant, what, cursor),
    queryFn: read,
    placeholderData: keepPreviousData,
    gcTime: 0,
  });
}

/** The tenant's deployments as its application reads them, each with a write the server refuses. */
export function ImpersonatedDeployments({ grant }: { grant: ImpersonationGrant }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = usePage(grant, 'deployments', cursor, () =>
    data(
      api.GET('/api/v1/deployments', {
        params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } },
        headers: asTenant(grant),
      }),
    ),
  );
  return (
    <section aria-labelledby="impersonated-deployments-heading">
      <h3 id="impersonated-deployments-heading">Deployments</h3>
      <ErrorMessage error={page.error} />
      <table className="list" aria-label={`Deployments of ${grant.tenantId}`}>
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col">Status</th>
            <th scope="col">URL</th>
            <th scope="col">Updated</th>
            <th scope="col">Write</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.data.map((deployment) => (
            <tr key={deployment.id}>
              <td>{deployment.project_name}</td>
              <td>{deployment.status}</td>
              <td>{deployment.url ?? ''}</td>
              <td>{new Date(deployment.updated_at).toLocaleString()}</td>
              <td>
                <WriteAttempt grant={grant} deployment={deployment} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.data.length === 0 ? <p>No deployments.</p> : null}
      <Pager
        cursors={cursors}
        nextCursor={page.data?.next_cursor}
        onChange={setCursors}
        label="Deployment pages"
      />
    </section>
  );
}

/** The tenant's workflows as its application reads them. */
export function ImpersonatedWorkflows({ grant }: { grant: ImpersonationGrant }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = usePage(grant, 'workflows', cursor, () =>
    data(
      api.GET('/api/v1/workflows', {
        params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } },
        headers: asTenant(grant),
      }),
    ),
  );
  return (
    <section aria-labelledby="impersonated-workflows-heading">
      <h3 id="impersonated-workflows-heading">Workflows</h3>
      <ErrorMessage error={page.error} />
      <table className="list" aria-label={`Workflows of ${grant.tenantId}`}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Config</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.data.map((workflow) => (
            <tr key={workflow.id}>
              <td>{workflow.name}</td>
              <td>{workflow.status}</td>
              <td>
                <code className="details">{workflow.config ? JSON.stringify(workflow.config) : ''}</code>
              </td>
              <td>{new Date(workflow.updated_at).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.data.length === 0 ? <p>No workflows.</p> : null}
      <Pager
        cursors={cursors}
        nextCursor={page.data?.next_cursor}
        onChange={setCursors}
        label="Workflow pages"
      />
    </section>
  );
}
