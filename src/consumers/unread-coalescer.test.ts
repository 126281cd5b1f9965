import { describe, expect, it } from 'vitest';
import { UnreadCoalescer, type UnreadEvent } from './unread-coalescer.js';

/** A coalescer whose publishes are recorded with the time they went out. */
function recorded(windowMs: number) {
  const published: Array<{ at: number; events: UnreadEvent[] }> = [];
  const coalescer = new UnreadCoalescer(windowMs, async (events) => void published.push({ at: Date.now(), events: [...events] }));
  return { coalescer, published };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('UnreadCoalescer', () => {
  it("sends a pair's first event at once, and the events of one turn in one publish", async () => {
    const { coalescer, published } = recorded(200);
    const sent = ['1', '2', '3'].map((u) => coalescer.send(u, 'r', { n: 1 }));
    expect(sent.every((p) => p instanceof Promise)).toBe(true);
    expect(published).toEqual([]);
    await Promise.all(sent);
    expect(published.map((p) => p.events.map((e) => e.userId))).toEqual([['1', '2', '3']]);
  });

  it('sends a later event of a pair once the window has passed, with the latest body only', async () => {
    const { coalescer, published } = recorded(150);
    await coalescer.send('1', 'r', { n: 1 });
    const first = published[0]!.at;
    expect(coalescer.send('1', 'r', { n: 2 })).toBeUndefined();
    expect(coalescer.send('1', 'r', { n: 3 })).toBeUndefined();
    expect(coalescer.waiting).toBe(1);
    await sleep(80);
    expect(published).toHaveLength(1);
    const deadline = Date.now() + 3000;
    while (published.length < 2 && Date.now() < deadline) await sleep(10);
    expect(published.map((p) => p.events.map((e) => e.body))).toEqual([[{ n: 1 }], [{ n: 3 }]]);
    expect(published[1]!.at - first).toBeGreaterThanOrEqual(150);
    expect(coalescer.waiting).toBe(0);
  });

  it('sends the waiting events of many pairs that fall due on one tick in one publish', async () => {
    const { coalescer, published } = recorded(100);
    const pairs = Array.from({ length: 50 }, (_, i) => [String(i), String(i % 5)] as const);
    await Promise.all(pairs.map(([u, r]) => coalescer.send(u, r, { n: 1 })));
    for (const [u, r] of pairs) expect(coalescer.send(u, r, { n: 2 })).toBeUndefined();
    expect(coalescer.waiting).toBe(50);
    const deadline = Date.now() + 3000;
    while (coalescer.waiting > 0 && Date.now() < deadline) await sleep(10);
    expect(published).toHaveLength(2);
    expect(published[1]!.events).toHaveLength(50);
    expect(published[1]!.events.every((e) => (e.body as { n: number }).n === 2)).toBe(true);
  });

  it('with a window of 0 sends every event', async () => {
    const { coalescer, published } = recorded(0);
    await coalescer.send('1', 'r', { n: 1 });
    await coalescer.send('1', 'r', { n: 2 });
    expect(published.map((p) => p.events[0]!.body)).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
