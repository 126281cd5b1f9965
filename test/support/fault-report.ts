// The figures of a fault run, one row per fault, as RELIABILITY.md shows them.
export interface FaultRow {
  fault: string;
  /** messages acknowledged in the run */
  acked: number;
  /** of those, acknowledged only after a retry under the same idempotency key */
  retried: number;
  /** longest time a subscriber received nothing, from the fault on */
  stallMs: number;
  /** SEND (first attempt) → MESSAGE latency of messages sent between the fault and the cluster being whole again */
  p99Ms: number;
  /** from the fault until every SEND is acknowledged within 1 s for good */
  recoveryMs: number;
  /** how long the fault itself lasted (until the cluster was whole again) */
  healMs: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

export function faultReport(rows: readonly FaultRow[]): string {
  const head = '| fault | acked | retried | longest stall | p99 during fault | recovery | lost / duplicated / out of order |\n|---|---|---|---|---|---|---|';
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = rows.map(
    (r) => `| ${r.fault} | ${r.acked} | ${r.retried} | ${s(r.stallMs)} | ${r.p99Ms} ms | ${s(r.recoveryMs)} | ${r.lost} / ${r.duplicated} / ${r.outOfOrder} |`,
  );
  return [head, ...lines].join('\n');
}
