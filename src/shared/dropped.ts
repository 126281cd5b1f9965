// Failures of best-effort work that are dropped on purpose, because something else repairs what they lose. Each is
// counted (chat_failures_dropped_total{what}) instead of vanishing in an empty catch; `what` is this fixed set.

export const DROPPED_FAILURES = Object.freeze([
  /** An ephemeral event (typing, member joined/left, room removed): at most once by design; clients re-read over REST. */
  'event',
  /** A membership change on the bus: every gateway re-checks its subscriptions against the store every few seconds. */
  'membership-event',
  /** An idempotency key not released or not completed: a pending key expires in 30 s; the store answers for a done one. */
  'idempotency-key',
  /** A bus unsubscribe: the handler is gone already, so what arrives is ignored; the connection ends on close. */
  'bus-unsubscribe',
] as const);

export type DroppedFailure = (typeof DROPPED_FAILURES)[number];

/** Counts one dropped failure (the metric's `inc`, or a test's recorder). */
export type CountDropped = (what: DroppedFailure) => void;

/** `promise`, its failure counted as `what` and dropped. */
export function dropFailure(promise: Promise<unknown>, what: DroppedFailure, count: CountDropped): Promise<void> {
  return promise.then(
    () => undefined,
    () => {
      count(what);
    },
  );
}
