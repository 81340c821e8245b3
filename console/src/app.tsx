import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { type Capabilities, useCapabilities } from './api/capabilities';
import { currentToken, signOut } from './api/session';
import { ErrorMessage } from './components/error-message';
import { Link, usePath } from './navigation';
import { AuditPage } from './pages/audit/audit-page';
import { FleetPage } from './pages/fleet/fleet-page';
import { JobsPage } from './pages/jobs/jobs-page';
import { MigrationsPage } from './pages/migrations/migrations-page';
import { SignInPage } from './pages/sign-in/sign-in-page';
import { TenantPage } from './pages/tenant/tenant-page';
import { TenantsPage } from './pages/tenants/tenants-page';

const SECTIONS = [
  { path: '/tenants', label: 'Tenants' },
  { path: '/fleet', label: 'Fleet' },
  { path: '/migrations', label: 'Migrations' },
  { path: '/jobs', label: 'Jobs' },
  { path: '/audit', label: 'Audit log' },
];

function Page({ path, capabilities }: { path: string; capabilities: Capabilities }) {
  const tenant = /^\/tenants\/([a-z][a-z0-9-]{1,38}[a-z0-9])$/.exec(path);
  if (tenant) return <TenantPage id={tenant[1]!} capabilities={capabilities} />;
  if (path === '/fleet') return <FleetPage />;
  if (path === '/migrations') return <MigrationsPage capabilities={capabilities} />;
  if (path === '/jobs') return <JobsPage />;
  if (path === '/audit') return <AuditPage />;
  return <TenantsPage />;
}

export function App() {
  const [token, setToken] = useState(currentToken);
  if (!token) return <SignInPage onSignedIn={() => setToken(currentToken())} />;
  return <SignedIn onSignOut={() => setToken(null)} />;
}

function SignedIn({ onSignOut }: { onSignOut: () => void }) {
  const path = usePath();
  const queries = useQueryClient();
  const me = useCapabilities();
  const section = SECTIONS.find((item) => path === item.path || path.startsWith(`${item.path}/`));
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <span className="brand">tenantplane</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map((item) => (
              <li key={item.path}>
                <Link to={item.path} aria-current={item === (section ?? SECTIONS[0]) ? 'page' : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">
          {me.data ? `${me.data.subject ?? 'unknown'} · ${me.data.scopes.join(' ') || 'no admin scope'}` : ''}
        </span>
        <button
          type="button"
          onClick={() => {
            signOut();
            queries.clear();
            onSignOut();
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">
        <ErrorMessage error={me.error} />
        {me.data ? <Page path={path} capabilities={me.data} /> : null}
      </main>
    </>
  );
}
