/**
 * A process that takes a tenant's move lock and holds it until it is killed, for the tests of a lock whose
 * holder vanishes: `tsx move-lock-holder.ts <control database URL> <tenant> <heartbeat ms> <stale after ms>`.
 * Prints `locked` once it holds the lock.
 */
import { lockTenantMove } from '../../src/moves/move-lock.js';

const [url, tenantId, heartbeatMs, staleAfterMs] = process.argv.slice(2);
if (!url || !tenantId)
  throw new Error('usage: move-lock-holder.ts <url> <tenant> <heartbeat ms> <stale after ms>');
await lockTenantMove(url, tenantId, {
  heartbeatMs: Number(heartbeatMs),
  staleAfterMs: Number(staleAfterMs),
});
process.stdout.write('locked\n');
// The lock's connection keeps the process alive; this keeps it so even if the lock is lost.
setInterval(() => {}, 60000);
