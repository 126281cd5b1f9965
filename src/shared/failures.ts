// Classifying failures: an infrastructure outage (retry, commit nothing, answer 503) versus a bad input or a
// poison record (fail fast). Getting this wrong either loses messages to the DLT during a PostgreSQL restart or
// blocks a partition forever behind one bad record.

/** The error and its causes, outermost first (follows `cause` and kafkajs' `originalError`), at most `depth`. */
export function* causes(err: unknown, depth = 6): Generator<Record<string, unknown>> {
  let e: unknown = err;
  for (let i = 0; e && typeof e === 'object' && i < depth; i++) {
    const obj = e as Record<string, unknown>;
    yield obj;
    e = obj.cause ?? obj.originalError;
  }
}

const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

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

// ioredis during a restart or a Sentinel failover: a command that waited too long, one aborted with its connection,
// a demoted primary (READONLY), a node still loading or without its primary, no sentinel answering.
const REDIS_UNAVAILABLE = /Command timed out|Command aborted due to connection close|^READONLY |^LOADING |^MASTERDOWN |All sentinels are unreachable/;

const TRANSIENT_MESSAGE =
  /Connection terminated|Connection is closed|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error|MaxRetriesPerRequest|KafkaJS.*(Connection|broker|timeout)/i;

/** True when `err` (or one of its causes) says a dependency is unavailable, not that the input was bad. */
export function isTransientError(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = e.code;
    if (typeof code === 'string' && (TRANSIENT_NODE_CODES.has(code) || isTransientSqlState(code))) return true;
    const message = String(e.message ?? '');
    if (TRANSIENT_MESSAGE.test(message) || REDIS_UNAVAILABLE.test(message)) return true;
    if (e.retriable === true) return true;
  }
  return false;
}
