import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found from this file whether it runs from `src/` (tsx) or `dist/src/` (built). */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the tenantplane package root');
    dir = parent;
  }
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot();
export const CONTROL_MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'control-migrations');
export const DEFAULT_TENANT_MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'tenant-migrations');
