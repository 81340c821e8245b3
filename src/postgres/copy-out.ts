import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

export type CopyOutStream = ReturnType<typeof copyTo>;

/**
 * `COPY … TO STDOUT` on `client`, as a stream of COPY data.
 *
 * A stream destroyed before its end (what it fed failed: a store upload, the other side of a move) leaves
 * its client inside the COPY, with its socket possibly paused for backpressure, so it reads neither the rest
 * of the rows nor the server's error: the next statement on it, a ROLLBACK in a `finally` say, would wait
 * forever. Such a client is closed at once instead, and whatever runs on it next fails.
 */
export function copyOut(client: pg.Client, sql: string): CopyOutStream {
  const stream = client.query(copyTo(sql));
  let ended = false;
  stream.once('end', () => {
    ended = true;
  });
  stream.once('close', () => {
    if (!ended) void client.end().catch(() => {});
  });
  return stream;
}
