// A fix for kafkajs 2.2.4's request queue (tulios/kafkajs#1556, #1704; the library is unmaintained and the fix
// PRs #1667/#1768 are unmerged). After every request, `scheduleCheckPendingRequests` arms a timer for
// `throttledUntil - now`, which is negative when nothing is throttled: Node runs it after 1 ms, it re-arms itself,
// and every broker connection spins a 1 ms timer loop for its whole life. Measured here: an idle instance at 5 % of
// a core, most of it in that loop (and a TimeoutNegativeWarning on Node 24). The queue only needs the timer when a
// request waits in `pending` or a throttle is running; without either, a new request schedules its own check.
import { createRequire } from 'node:module';

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests(): void;
}

const require = createRequire(import.meta.url);
let applied = false;

/** The RequestQueue class of the kafkajs this process loads (exported for the test). */
export function kafkajsRequestQueue(): { prototype: RequestQueueLike } {
  return require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueLike };
}

/** Installs the fix once per process; idempotent. */
export function fixKafkajsRequestQueue(): void {
  if (applied) return;
  applied = true;
  const proto = kafkajsRequestQueue().prototype;
  const schedule = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueLike) {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    schedule.call(this);
  };
}
