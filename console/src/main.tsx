import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { takeAuthorizationResponse } from './api/oidc';
import { takeTokenFromFragment } from './api/session';
import { App } from './app';
import './styles.css';

// Before anything renders or is logged: the token leaves the address bar and the history entry.
takeTokenFromFragment();
// Likewise the identity provider's code and state, on the return from signing in there.
takeAuthorizationResponse();

const queries = new QueryClient({
  defaultOptions: {
    // A refused request (bad input, missing scope) will not succeed by asking again.
    queries: {
      retry: (failures, error) => failures < 2 && !('status' in error && Number(error.status) < 500),
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queries}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
