import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { PreparedMessage } from '../../protocol/index.js';
import { MemoryFanoutBus } from '../fanout/memory.js';
import { OPS_BUS_TOPIC, OpsMonitor } from './monitor.js';
import { sample } from '../../test/support/ops-samples.js';

function setup(over: { lag?: () => Promise<Array<{ group: string; topic: string; partition: number; lag: number }>>; count?: () => Promise<number> } = {}) {
  const bus = new MemoryFanoutBus();
  let n = 0;
  const monitor = new OpsMonitor({
    instanceId: 'app-1',
    intervalMs: 60_000, // ticks are driven by the test
    timeoutMs: 5000,
    historySeconds: 180, // 3 points at this interval
    bus,
    sampler: {
      sample: async (leaving = false) =>
        sample({ at: Date.now() + n, id: 'app-1', messagesIn: 10 * ++n, leaving, groups: [{ group: 'chat-persist', ready: true }] }),
      close: () => {},
    },
    lag:
      over.lag ??
      (async () => [
        { group: 'chat-persist', topic: 'chat.messages', partition: 0, lag: 7 },
        { group: 'chat-notify', topic: 'chat.messages', partition: 0, lag: 2 },
      ]),
    counts: { deadLetters: over.count ?? (async () => 4) },
    log: pino({ level: 'silent' }),
  });
  const settle = () => new Promise((r) => setTimeout(r, 5));
  return { bus, monitor, settle };
}

describe('OpsMonitor', () => {
  it('hears the instances on the bus; groups with lag and readiness (a group nobody runs is not ready); counts; pushes one frame to every subscriber', async () => {
    const { bus, monitor, settle } = setup();
    await monitor.start();
    await settle(); // the first tick
    // Another instance, heard on the bus, running the notify group with its consumer down.
    await bus.publishEvent(OPS_BUS_TOPIC, {
      eventType: 'sample',
      body: sample({ at: Date.now(), id: 'app-2', groups: [{ group: 'chat-notify', ready: false }] }),
    });
    await bus.publishEvent(OPS_BUS_TOPIC, { eventType: 'sample', body: { v: 1, id: 'garbage' } }); // dropped at the edge
    await settle();
    const pushed: PreparedMessage[] = [];
    const sub = { pushEvent: (f: PreparedMessage) => void pushed.push(f) };
    monitor.addSubscriber(sub);
    monitor.addSubscriber({ pushEvent: (f: PreparedMessage) => void pushed.push(f) });
    await monitor.tick();
    await settle();
    const o = await monitor.overview();
    expect(o.instances.map((i) => i.id)).toEqual(['app-1', 'app-2']);
    expect(o.groups).toEqual([
      { groupId: 'chat-notify', topic: 'chat.messages', lag: 2, ready: false, members: ['app-2'], readyMembers: 0, partitions: [{ partition: 0, lag: 2 }] },
      { groupId: 'chat-persist', topic: 'chat.messages', lag: 7, ready: true, members: ['app-1'], readyMembers: 1, partitions: [{ partition: 0, lag: 7 }] },
    ]);
    expect(o.deadLetters).toBe(4);
    expect(o.alerts.map((a) => [a.name, a.state, a.labels])).toEqual([
      ['ChatConsumerGroupNotReady', 'pending', { instance_id: 'app-2', group: 'chat-notify' }],
    ]);
    // Each subscriber got the latest overview on joining, then the tick's: one encoded frame for both.
    expect(pushed).toHaveLength(4);
    expect(pushed[2]).toBe(pushed[3]);
    expect(o.counts).toEqual({ deadLetters: 4 });
    monitor.removeSubscriber(sub);
    await monitor.close();
  });

  it('keeps OPS_HISTORY_SECONDS of points; a failing count keeps its last value and says why; lag errors are reported', async () => {
    let fail = false;
    const { monitor, settle } = setup({
      count: async () => {
        if (fail) throw new Error('store down');
        return 1;
      },
      lag: async () => {
        if (fail) throw new Error('kafka down');
        return [];
      },
    });
    await monitor.start();
    await settle();
    for (let i = 0; i < 5; i++) await monitor.tick();
    expect(monitor.history()).toHaveLength(3);
    fail = true;
    const o = await monitor.overview();
    expect([o.deadLetters, o.countErrors, o.lagError]).toEqual([1, { deadLetters: 'store down' }, 'kafka down']);
    await monitor.close();
  });

  it('a lag source that never answers is given up after 2 s: the overview still comes, saying why', async () => {
    const { monitor, settle } = setup({ lag: () => new Promise(() => {}) });
    await monitor.start();
    await settle();
    const t0 = Date.now();
    const o = await monitor.overview();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(o.lagError).toBe('did not finish within 2000 ms');
    expect(o.instances.map((i) => i.id)).toEqual(['app-1']);
    await monitor.close();
  });

  it('close says goodbye on the bus: the other instances drop it at once instead of counting it down', async () => {
    const { bus, monitor, settle } = setup();
    const heard: unknown[] = [];
    await monitor.start();
    await settle();
    await bus.subscribeTopic(OPS_BUS_TOPIC, (e) => void heard.push(e.body)); // replaces the monitor's listener on this bus
    await monitor.close();
    await settle();
    expect(heard).toEqual([expect.objectContaining({ id: 'app-1', leaving: true })]);
  });
});
