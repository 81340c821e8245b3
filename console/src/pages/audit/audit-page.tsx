import { AuditTable } from './audit-table';

export function AuditPage() {
  return (
    <>
      <h1>Audit log</h1>
      <AuditTable pageSize={50} />
    </>
  );
}
