// Tells an infrastructure outage (retry forever, commit nothing) from a poison record (retry a few
// times, then dead-letter it). Getting this wrong either loses messages to the DLT during a
// PostgreSQL restart or blocks a partition forever behind one bad record.

const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** PostgreSQL SQLSTATE classes/codes that mean "the server is not available right now". */
function isTransientSqlState(code: string): boolean {
  return (
    (code.startsWith('08') && code !== '08P01') || // connection exception (not a protocol violation: that is our bug)
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    code === '53300' || // too_many_connections
    code === '40001' || // serialization_failure
    code === '40P01' // deadlock_detected
  );
}

export function isTransientError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (TRANSIENT_NODE_CODES.has(code) || isTransientSqlState(code))) return true;
    const message = String((e as { message?: unknown }).message ?? '');
    if (
      /Connection terminated|Connection is closed|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error|MaxRetriesPerRequest|KafkaJS.*(Connection|broker|timeout)/i.test(
        message,
      )
    )
      return true;
    if ((e as { retriable?: unknown }).retriable === true) return true;
  }
  return false;
}
