import { InvalidInputError } from '../errors/index.js';

/**
 * A region's name: lowercase letters, digits and '-', starting with a letter and not ending with '-', 2 to
 * 40 characters (`eu`, `us-east-1`). The catalog's CHECK constraints (control migration 0012) hold the same.
 */
export const REGION_PATTERN = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;

/** A region given as input: a name, or undefined/null for none. Anything else is refused before SQL. */
export function checkRegion(value: unknown, what = 'region'): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !REGION_PATTERN.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : typeof value;
    throw new InvalidInputError(
      `invalid ${what} ${shown}: use 2-40 characters a-z, 0-9 and '-', starting with a letter and not ending with '-'`,
      'invalid_region',
    );
  }
  return value;
}
