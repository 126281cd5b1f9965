import { describe, expect, it } from 'vitest';
import { fixKafkajsRequestQueue, kafkajsRequestQueue } from './kafkajs-request-queue-fix.js';

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  inflight: Map<number, unknown>;
  checkPendingRequests(): void;
  push(req: unknown): void;
  destroy(): void;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A real kafkajs RequestQueue (no socket needed) whose checkPendingRequests calls are counted. */
function queue(maxInFlightRequests: number | null = null): { q: Queue; checks: () => number } {
  const RequestQueue = kafkajsRequestQueue() as unknown as new (opts: object) => Queue;
  const q = new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b:1', logger: silent });
  let n = 0;
  const check = q.checkPendingRequests.bind(q);
  q.checkPendingRequests = () => {
    n++;
    check();
  };
  return { q, checks: () => n };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kafkajs request queue fix (tulios/kafkajs#1556)', () => {
  it('an idle queue arms no timer after a check (kafkajs 2.2.4 alone re-runs it every ~1 ms forever)', async () => {
    fixKafkajsRequestQueue();
    const { q, checks } = queue();
    q.checkPendingRequests();
    await sleep(100);
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(checks()).toBe(1);
    q.destroy();
  });

  it('a request waiting in pending is still checked until it can go (the timer is kept where it is needed)', async () => {
    fixKafkajsRequestQueue();
    const { q, checks } = queue(1);
    q.inflight.set(1, {}); // one in flight: the next request must wait
    let sent = 0;
    q.push({ entry: { correlationId: 2 }, expectResponse: true, sendRequest: () => void sent++ });
    expect(q.pending).toHaveLength(1);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    await sleep(50);
    expect(checks()).toBeGreaterThan(1); // re-checked every 10 ms while it waits
    q.inflight.clear();
    await sleep(50);
    expect(sent).toBe(1);
    expect(q.pending).toHaveLength(0);
    q.destroy();
  });

  it('a throttled queue keeps its scheduled check even when nothing is pending', () => {
    fixKafkajsRequestQueue();
    const { q } = queue();
    q.throttledUntil = Date.now() + 50;
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    q.destroy();
  });
});
