import { describe, expect, it } from 'vitest';
import { AlertTracker, type AlertInput } from './alerts.js';
import { ClusterView } from './cluster-view.js';
import { sample, type SampleOptions } from '../../test/support/ops-samples.js';

/** Feeds one instance's samples every `stepMs` through a cluster view and evaluates at each step. */
function run(steps: number, stepMs: number, make: (i: number, at: number) => SampleOptions, extra: Partial<AlertInput> = {}) {
  let now = 0;
  const view = new ClusterView({ timeoutMs: 60_000, now: () => now });
  const tracker = new AlertTracker();
  const history: Array<ReturnType<AlertTracker['evaluate']>> = [];
  for (let i = 0; i < steps; i++) {
    now = i * stepMs;
    view.accept(sample(make(i, now)));
    history.push(tracker.evaluate({ instances: view.live(), lost: view.lost(), lag: [], ...extra }, now));
  }
  return history;
}

const states = (alerts: ReturnType<AlertTracker['evaluate']>, name: string) => alerts.filter((a) => a.name === name).map((a) => a.state);

describe('AlertTracker: the rules of alerts.yml on the cluster view', () => {
  it('ChatConsumerGroupNotReady: pending while down for less than 2 minutes, firing after, gone when it recovers', () => {
    const h = run(20, 10_000, (i, at) => ({ at, groups: [{ group: 'chat-persist', ready: i < 2 || i > 16 }] }));
    expect(states(h[1]!, 'ChatConsumerGroupNotReady')).toEqual([]);
    expect(states(h[2]!, 'ChatConsumerGroupNotReady')).toEqual(['pending']); // down since 20 s
    expect(states(h[13]!, 'ChatConsumerGroupNotReady')).toEqual(['pending']); // 110 s
    expect(states(h[14]!, 'ChatConsumerGroupNotReady')).toEqual(['firing']); // 120 s
    expect(h[14]!.find((a) => a.name === 'ChatConsumerGroupNotReady')!.labels).toEqual({ instance_id: 'app-1', group: 'chat-persist' });
    expect(states(h[17]!, 'ChatConsumerGroupNotReady')).toEqual([]);
  });

  it('ChatStompErrorRateHigh: more than 1 ERROR/s of one code over 5 minutes, for 5 minutes; 1/s exactly does not', () => {
    const over = run(70, 10_000, (i, at) => ({ at, stompErrors: { unauthorized: i * 15, forbidden: i * 10 } }));
    expect(states(over[5]!, 'ChatStompErrorRateHigh')).toEqual(['pending']);
    expect(over[5]!.find((a) => a.name === 'ChatStompErrorRateHigh')!.labels).toEqual({ instance_id: 'app-1', code: 'unauthorized' });
    expect(states(over[35]!, 'ChatStompErrorRateHigh')).toEqual(['firing']);
  });

  it('ChatHttp5xxRateHigh: the share of 5xx among /api requests over 5 minutes above 5 %', () => {
    const h = run(40, 10_000, (i, at) => ({ at, httpApi: i * 100, httpApi5xx: i * (i < 20 ? 4 : 6) }));
    expect(states(h[15]!, 'ChatHttp5xxRateHigh')).toEqual([]); // 4 %
    const later = h[39]!.find((a) => a.name === 'ChatHttp5xxRateHigh');
    expect(later?.value).toBeGreaterThan(0.05);
  });

  it('ChatDeadLetters: an increase within 10 minutes, for 1 minute; resolved 10 minutes after the last one', () => {
    const h = run(90, 10_000, (i, at) => ({ at, deadLettered: { 'chat-persist': i >= 5 ? 1 : 0, 'chat-notify': 0 } }));
    expect(states(h[4]!, 'ChatDeadLetters')).toEqual([]);
    expect(states(h[5]!, 'ChatDeadLetters')).toEqual(['pending']);
    expect(states(h[11]!, 'ChatDeadLetters')).toEqual(['firing']);
    expect(h[11]!.find((a) => a.name === 'ChatDeadLetters')!.labels).toEqual({ group: 'chat-persist' });
    expect(states(h[80]!, 'ChatDeadLetters')).toEqual([]);
  });

  it('ChatE2eLatencyP99High: p99 of the last 5 minutes above 0.5 s for 10 minutes', () => {
    // Every step 100 deliveries, 5 of them slower than 1 s (p99 between 1 and 2 s).
    const h = run(100, 10_000, (i, at) => ({ at, e2e: [0, 0, 0, 0, 0, i * 95, i * 95, i * 95, i * 95, i * 100, i * 100, i * 100] }));
    expect(states(h[1]!, 'ChatE2eLatencyP99High')).toEqual(['pending']);
    expect(states(h[61]!, 'ChatE2eLatencyP99High')).toEqual(['firing']);
    expect(h[61]!.find((a) => a.name === 'ChatE2eLatencyP99High')!.value).toBeGreaterThan(1);
  });

  it('ChatConsumerLagHigh from the lag source; unreadable lag keeps the timers instead of resetting them', () => {
    const tracker = new AlertTracker();
    const view = new ClusterView({ timeoutMs: 60_000, now: () => 0 });
    const lag = [{ group: 'chat-persist', topic: 'chat.messages', partition: 3, lag: 1500 }];
    const at = (t: number, l: AlertInput['lag']) => tracker.evaluate({ instances: view.live(), lost: view.lost(), lag: l }, t);
    expect(states(at(0, lag), 'ChatConsumerLagHigh')).toEqual(['pending']);
    expect(states(at(200_000, null), 'ChatConsumerLagHigh')).toEqual(['pending']);
    expect(states(at(300_000, lag), 'ChatConsumerLagHigh')).toEqual(['firing']);
    expect(states(at(310_000, [{ ...lag[0]!, lag: 1000 }]), 'ChatConsumerLagHigh')).toEqual([]);
  });

  it('ChatWebhookDeliveriesFailed: a delivery given up within 15 minutes, for 1 minute', () => {
    const h = run(20, 10_000, (i, at) => ({ at, webhookDeliveries: { delivered: i, failed: i >= 3 ? 1 : 0 } }));
    expect(states(h[2]!, 'ChatWebhookDeliveriesFailed')).toEqual([]);
    expect(states(h[3]!, 'ChatWebhookDeliveriesFailed')).toEqual(['pending']);
    expect(states(h[9]!, 'ChatWebhookDeliveriesFailed')).toEqual(['firing']); // 60 s after the first failure
    expect(h[9]!.find((a) => a.name === 'ChatWebhookDeliveriesFailed')!.labels).toEqual({});
  });

  it('ChatWebhookReceiverFailing: more than half of the POSTs failing over 5 minutes, for 5 minutes; exactly half does not', () => {
    const failing = run(70, 10_000, (i, at) => ({ at, webhookRequests: { ok: i * 2, http_5xx: i * 3 } }));
    expect(states(failing[1]!, 'ChatWebhookReceiverFailing')).toEqual(['pending']);
    expect(states(failing[31]!, 'ChatWebhookReceiverFailing')).toEqual(['firing']);
    const half = run(10, 10_000, (i, at) => ({ at, webhookRequests: { ok: i, timeout: i } }));
    expect(states(half[9]!, 'ChatWebhookReceiverFailing')).toEqual([]);
  });

  it('ChatInstanceDown: an instance silent past the timeout, firing after a minute; a goodbye is not an outage', () => {
    let now = 0;
    const view = new ClusterView({ timeoutMs: 5000, now: () => now });
    const tracker = new AlertTracker();
    view.accept(sample({ at: 0, id: 'gone' }));
    view.accept(sample({ at: 0, id: 'polite' }));
    view.accept(sample({ at: 1, id: 'polite', leaving: true }));
    const at = (t: number) => {
      now = t;
      return tracker.evaluate({ instances: view.live(), lost: view.lost(), lag: [] }, t);
    };
    expect(states(at(4000), 'ChatInstanceDown')).toEqual([]);
    expect(
      at(6000)
        .filter((a) => a.name === 'ChatInstanceDown')
        .map((a) => [a.labels.instance_id, a.state]),
    ).toEqual([['gone', 'pending']]);
    expect(states(at(66_000), 'ChatInstanceDown')).toEqual(['firing']);
  });
});
