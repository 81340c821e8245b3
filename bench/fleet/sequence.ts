/** bench:fleet's load: one Zipf-distributed token sequence over all tenants, and who it reaches. */

import { log } from '../lib/log.js';
import type { FleetOptions } from './options.js';
import type { FleetTenant } from './setup.js';
import { type ZipfSequence, zipfSequence } from './zipf.js';

/** Tokens drawn ahead: more than any run sends at this machine's speed, so a run does not wrap around. */
const SEQUENCE_LENGTH = 200_000;

/** The sequence, described in `report.zipf` and in a line: how many tenants its first 30,000 requests reach. */
export function drawSequence(
  tenants: FleetTenant[],
  options: FleetOptions,
  report: Record<string, unknown>,
): ZipfSequence<FleetTenant> {
  const zipf = zipfSequence(tenants, options.zipf, SEQUENCE_LENGTH);
  const head = zipf.sequence.slice(0, 30000);
  const top = zipf.ranked[0]!;
  const zipfReport = {
    exponent: options.zipf,
    tenants: tenants.length,
    sequenceLength: SEQUENCE_LENGTH,
    first30000: {
      distinctTenants: new Set(head.map((tenant) => tenant.id)).size,
      distinctDedicated: new Set(head.filter((t) => t.placement === 'dedicated').map((t) => t.id)).size,
      dedicatedShare: head.filter((tenant) => tenant.placement === 'dedicated').length / head.length,
    },
    top: {
      id: top.id,
      placement: top.placement,
      share: head.filter((t) => t === top).length / head.length,
    },
  };
  report.zipf = zipfReport;
  log(
    `Zipf s=${options.zipf} over ${tenants.length} tenants: the first 30,000 requests reach ` +
      `${zipfReport.first30000.distinctTenants} tenants (${zipfReport.first30000.distinctDedicated} of the ` +
      `${options.dedicated} dedicated databases), ${(zipfReport.first30000.dedicatedShare * 100).toFixed(1)}% ` +
      `of requests go to dedicated tenants; the top tenant (${top.id}, ${top.placement}) gets ` +
      `${(zipfReport.top.share * 100).toFixed(1)}%`,
  );
  return zipf;
}
