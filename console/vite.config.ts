import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The operator console, built into dist/console and served by `tenantctl serve` at /console. Everything it
 * loads is bundled (no fonts or scripts from elsewhere) and nothing is inline, so the strict
 * Content-Security-Policy of src/http/security-headers.ts holds.
 */
export default defineConfig({
  root,
  base: '/console/',
  publicDir: false,
  // React's automatic JSX runtime through Vite's own transform: no React plugin needed.
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // A module preload polyfill would be an inline script; every browser the console supports has it.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    rolldownOptions: {
      // React Query marks its modules "use client" for server-rendering frameworks; a plain bundle has no use for it.
      onLog(level, log, handler) {
        if (log.code !== 'MODULE_LEVEL_DIRECTIVE') handler(level, log);
      },
    },
  },
});
