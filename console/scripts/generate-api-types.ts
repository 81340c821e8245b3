/**
 * Writes console/src/api/schema.d.ts from the OpenAPI document `tenantctl serve` serves at /openapi.json,
 * formatted as biome formats the tree. Run after changing a route or schema:
 *   npx tsx console/scripts/generate-api-types.ts
 * test/console-api-types.test.ts fails while the file is out of date.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../../src/http/openapi/openapi-document.js';
import { renderApiTypes } from './api-types.js';

export const API_TYPES_FILE = fileURLToPath(new URL('../src/api/schema.d.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));

/** The file's contents as the generator would write them now. */
export function currentApiTypes(): string {
  const text = renderApiTypes(openApiDocument('0.0.0'));
  return execFileSync('npx', ['biome', 'format', `--stdin-file-path=${API_TYPES_FILE}`], {
    cwd: REPOSITORY,
    input: text,
    encoding: 'utf8',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(API_TYPES_FILE, currentApiTypes());
  console.log(`wrote ${API_TYPES_FILE}`);
}
