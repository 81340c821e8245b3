import { createHash, type Hash } from 'node:crypto';

/** SHA-256 and byte count of a body, updated chunk by chunk as it streams past. */
export class RunningDigest {
  private readonly hash: Hash = createHash('sha256');
  size = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  /** Hex SHA-256; call once, after the last chunk. */
  hex(): string {
    return this.hash.digest('hex');
  }
}
