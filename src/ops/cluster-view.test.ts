import { describe, expect, it } from 'vitest';
import { ClusterView, MAX_INSTANCES, rates } from './cluster-view.js';
import { sample } from '../../test/support/ops-samples.js';

describe('ClusterView', () => {
  it('rates between two samples: per second, CPU as a fraction of a core, latency quantiles from the bucket increases', () => {
    const a = sample({ at: 0, messagesIn: 100, deliveriesOut: 1000, cpuSeconds: 5, stompErrors: { forbidden: 1 } });
    // 10 deliveries in 2 s: 5 at <= 5 ms, 5 more at <= 20 ms.
    const b = sample({
      at: 2000,
      messagesIn: 140,
      deliveriesOut: 1100,
      cpuSeconds: 6,
      stompErrors: { forbidden: 5 },
      e2e: [0, 5, 5, 10, 10, 10, 10, 10, 10, 10, 10, 10],
    });
    const r = rates(a, b);
    expect(r).toMatchObject({ messagesIn: 20, deliveriesOut: 50, stompErrors: 2, cpu: 0.5 });
    expect(r.p50Ms).toBeCloseTo(5);
    expect(r.p99Ms).toBeCloseTo(19.8);
    expect(rates(null, b)).toMatchObject({ messagesIn: 0, p99Ms: null });
  });

  it('a restarted instance (new startedAt) starts over instead of reporting a negative rate', () => {
    let now = 0;
    const view = new ClusterView({ timeoutMs: 5000, now: () => now });
    view.accept(sample({ at: 0, messagesIn: 1000 }));
    now = 1000;
    view.accept(sample({ at: 1000, messagesIn: 1010 }));
    expect(view.live()[0]!.rates.messagesIn).toBe(10);
    now = 2000;
    view.accept(sample({ at: 2000, startedAt: 2, messagesIn: 3 }));
    expect(view.live()[0]!.rates.messagesIn).toBe(0);
    expect(view.live()[0]!.window).toHaveLength(1);
  });

  it('a silent instance drops out after the timeout and is listed as lost; one that says goodbye leaves at once', () => {
    let now = 0;
    const view = new ClusterView({ timeoutMs: 5000, now: () => now });
    view.accept(sample({ at: 0, id: 'a' }));
    view.accept(sample({ at: 0, id: 'b' }));
    now = 4000;
    view.accept(sample({ at: 4000, id: 'a' }));
    expect(view.live().map((i) => i.sample.id)).toEqual(['a', 'b']);
    now = 5001;
    expect(view.live().map((i) => i.sample.id)).toEqual(['a']);
    expect([...view.lost().keys()]).toEqual(['b']);
    view.accept(sample({ at: 5001, id: 'a', leaving: true }));
    expect(view.live()).toEqual([]);
    expect([...view.lost().keys()]).toEqual(['b']);
    // b comes back: no longer lost.
    view.accept(sample({ at: 6000, id: 'b' }));
    expect(view.lost().size).toBe(0);
  });

  it(`tracks at most ${MAX_INSTANCES} instances, and keeps the alert window to about eleven minutes`, () => {
    let now = 0;
    const view = new ClusterView({ timeoutMs: 60_000, now: () => now });
    for (let i = 0; i < MAX_INSTANCES + 5; i++) view.accept(sample({ at: 0, id: `i${String(i).padStart(3, '0')}` }));
    expect(view.live()).toHaveLength(MAX_INSTANCES);
    for (let t = 1000; t <= 20 * 60_000; t += 1000) {
      now = t;
      view.accept(sample({ at: t, id: 'i000' }));
    }
    const w = view.live().find((i) => i.sample.id === 'i000')!.window;
    expect(w.length).toBeLessThanOrEqual(70);
    expect(w[w.length - 1]!.at - w[0]!.at).toBeLessThanOrEqual(11 * 60_000 + 10_000);
  });
});
