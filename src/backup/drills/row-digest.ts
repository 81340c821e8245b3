/** How a table digest is written: the algorithm's name, then 16 hex digits. */
export const ROW_DIGEST_PREFIX = 'rowsum64:';

const FNV_OFFSET = 0x811c9dc5 | 0;
const SECOND_SEED = 0x9747b28c | 0;

/** MurmurHash3's finalizer: spreads every input bit over the 32 output bits. */
function mix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * An order-independent digest of a table's rows in PostgreSQL's COPY text format (one row per line): each
 * row is hashed into 64 bits (two 32-bit lanes over its bytes, four at a time, and its length), and the
 * rows' hashes are summed modulo 2^32 per lane. The same rows give the same digest in any order, so a
 * backup's digest, taken as its rows stream out, can be recomputed from the rows a restore loaded however
 * the database returns them. It detects lost, added, duplicated or changed rows (not an adversary: the
 * backup object itself is authenticated by AES-GCM and its SHA-256). Chunks may split rows anywhere.
 */
export class RowDigest {
  rows = 0;
  #sum1 = 0;
  #sum2 = 0;
  /** The start of a row the last chunk cut off. */
  #partial: Buffer | undefined;

  update(chunk: Buffer): void {
    const data = this.#partial ? Buffer.concat([this.#partial, chunk]) : chunk;
    this.#partial = undefined;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let start = 0;
    for (let end = data.indexOf(10); end !== -1; end = data.indexOf(10, end + 1)) {
      let h1 = FNV_OFFSET;
      let h2 = SECOND_SEED;
      let at = start;
      for (; at + 4 <= end; at += 4) {
        const word = view.getUint32(at, true);
        h1 = Math.imul(h1 ^ word, 0x01000193);
        h1 ^= h1 >>> 15;
        h2 = Math.imul(h2 ^ word, 0x5bd1e995);
        h2 ^= h2 >>> 13;
      }
      for (; at < end; at += 1) {
        h1 = Math.imul(h1 ^ data[at]!, 0x01000193);
        h2 = Math.imul(h2 ^ data[at]!, 0x5bd1e995);
      }
      const length = end - start;
      this.#sum1 = (this.#sum1 + mix(h1 ^ length)) >>> 0;
      this.#sum2 = (this.#sum2 + mix(h2 + length)) >>> 0;
      this.rows += 1;
      start = end + 1;
    }
    if (start < data.length) this.#partial = Buffer.from(data.subarray(start));
  }

  /** The digest, once every chunk is in (COPY text ends every row with a newline). */
  digest(): string {
    if (this.#partial) throw new Error('the rows end in the middle of a row');
    const hex = (value: number) => value.toString(16).padStart(8, '0');
    return `${ROW_DIGEST_PREFIX}${hex(this.#sum1)}${hex(this.#sum2)}`;
  }
}
