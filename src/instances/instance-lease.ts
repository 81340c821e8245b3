/**
 * This process's registration in the catalog's `instances` table, as other parts see it. Another instance
 * may take back this one's connection share, and a move stops waiting for its confirmation, once the lease
 * has lapsed by the control database's clock; until `validUntil()` this process may assume neither has
 * happened.
 */
export interface InstanceLease {
  /** The instance's id (`instances.id`). */
  readonly id: string;
  /**
   * `performance.now()` up to which the lease is certainly still held: measured from when the last
   * successful renewal was sent, less a safety margin for clock drift.
   */
  validUntil(): number;
}
