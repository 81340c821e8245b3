import { expect } from 'chai';
import pg from 'pg';
import { JSON_READY_TYPES, timestampAsJson } from '../src/routing/json-timestamps.js';
import { TEST_POSTGRES_URL } from './setup/hooks.js';

/** What pg's own parsing gives once the row is written as JSON: the Date's JSON, or null. */
function viaDate(text: string): unknown {
  const parsed = pg.types.getTypeParser(1184, 'text')(text) as unknown;
  return JSON.parse(JSON.stringify({ value: parsed })).value;
}

describe('timestamps ready for JSON', () => {
  it('writes every timestamptz text exactly as its Date would be written', () => {
    const texts = [
      '2026-11-24 08:06:53.203909+00',
      '2026-11-24 08:06:53.2+00',
      '2026-11-24 08:06:53.999999+00',
      '2026-11-24 08:06:53.000001+00',
      '2026-11-24 08:06:53+00',
      '0050-01-01 00:00:00+00',
      '2026-11-24 08:06:53.5+05:30',
      '2026-11-24 08:06:53-08',
      '0044-03-15 12:00:00+00 BC',
      '12026-01-01 00:00:00+00',
      'infinity',
      '-infinity',
    ];
    for (const text of texts) expect(timestampAsJson(text), text).to.equal(viaDate(text));
  });

  it('gives the same JSON as Dates for timestamps read from PostgreSQL, in any session time zone', async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    try {
      const text = `SELECT timestamptz '2026-11-24 08:06:53.203909+00' - n * interval '1 second 7 microseconds' AS at
                    FROM generate_series(0, 3000) AS n`;
      for (const zone of ['UTC', 'Asia/Kolkata', 'America/Los_Angeles']) {
        await client.query(`SET TIME ZONE '${zone}'`);
        const asDates = await client.query(text);
        const asJson = await client.query({ text, types: JSON_READY_TYPES });
        expect(typeof asJson.rows[0].at).to.equal('string');
        expect(JSON.stringify(asJson.rows), zone).to.equal(JSON.stringify(asDates.rows));
      }
    } finally {
      await client.end();
    }
  });
});
