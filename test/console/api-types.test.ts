import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { API_TYPES_FILE, currentApiTypes } from '../../console/scripts/generate-api-types.js';

describe("console's API types", () => {
  it('are what the served OpenAPI document generates now (npx tsx console/scripts/generate-api-types.ts)', async () => {
    const committed = await readFile(API_TYPES_FILE, 'utf8');
    expect(
      committed === currentApiTypes(),
      'console/src/api/schema.d.ts is out of date: regenerate it',
    ).to.equal(true);
  });
});
