/**
 * Where in each period a tenant's slots fall, in seconds from the start of the period (periods count from
 * the Unix epoch): a hash of its id, so the same tenant keeps the same place and a tier's tenants spread
 * evenly over the period. `:id` and `:every` stand for the tenant id and the period in seconds.
 */
export const SLOT_OFFSET_SQL = '(hashtext(:id)::bigint & 2147483647) % :every';
