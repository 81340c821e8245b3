import pg from 'pg';

const TIMESTAMPTZ = 1184;

/** timestamptz as PostgreSQL writes it in UTC (DateStyle ISO): `2026-11-24 08:06:53.203909+00`. */
const UTC_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

const parseAsDate = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date | number | null;

/**
 * A timestamptz as the string a Date of it becomes in JSON (`2026-11-24T08:06:53.203Z`), without making
 * the Date: parsing every timestamp into a Date only to have JSON.stringify print it again was a large
 * share of the list route's cost. Milliseconds are truncated, as the Date would truncate them. Anything
 * other than a UTC timestamp of a four-digit year (another time zone, BC, infinity) takes the Date path,
 * so the answer is the same either way.
 */
export function timestampAsJson(text: string): string | null {
  const match = UTC_TIMESTAMP.exec(text);
  if (match) return `${match[1]}T${match[2]}.${`${match[3] ?? ''}000`.slice(0, 3)}Z`;
  const parsed = parseAsDate(text);
  // An infinite timestamp parses to ±Infinity, which JSON writes as null; so does an invalid Date.
  return parsed instanceof Date ? parsed.toJSON() : null;
}

/**
 * Type parsers for statements whose rows go straight into a JSON answer: timestamptz columns arrive as
 * the JSON text of their Date. Pass as `types` to TenantDatabase.query.
 */
export const JSON_READY_TYPES: pg.CustomTypesConfig = (() => {
  const types = new pg.TypeOverrides();
  types.setTypeParser(TIMESTAMPTZ, 'text', timestampAsJson);
  return types;
})();
