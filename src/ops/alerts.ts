// The alerts of compose/prometheus/alerts.yml evaluated on the cluster view, with the thresholds of alert-rules.ts:
// each rule's condition per label set (as its PromQL groups them), then Prometheus' pending -> firing state machine
// (`for:`). Rates and increases come from the instances' coarse sample windows (cluster-view.ts), without
// Prometheus' extrapolation; a freshly started console knows no history, so an alert is pending for `for:` first.
import type { LagEntry } from '../metrics/consumer-lag.js';
import { ALERT_THRESHOLDS, histogramQuantile, type AlertName } from './alert-rules.js';
import { bucketIncrease, increase, type ClusterView } from './cluster-view.js';
import type { InstanceSample } from './stats.js';

export interface ActiveAlert {
  name: AlertName;
  severity: 'critical' | 'warning';
  summary: string;
  labels: Record<string, string>;
  value: number;
  /** pending: the condition holds, for less than `for:`; firing: for at least that long. */
  state: 'pending' | 'firing';
  since: string;
  forSeconds: number;
}

type Live = ReturnType<ClusterView['live']>;
type Condition = { labels: Record<string, string>; value: number };
export interface AlertInput {
  instances: Live;
  lost: ReadonlyMap<string, number>;
  /** Consumer lag now; null when it could not be read (the lag rule keeps its state). */
  lag: readonly LagEntry[] | null;
}

/** The window's samples (oldest first) within `seconds` before the newest. */
function within(window: readonly InstanceSample[], seconds: number): InstanceSample[] {
  const newest = window[window.length - 1];
  return newest ? window.filter((s) => newest.at - s.at <= seconds * 1000) : [];
}

/** The increase of a counter over the samples, counter resets included; null with fewer than two samples. */
function windowIncrease(samples: readonly InstanceSample[], pick: (s: InstanceSample) => number): number | null {
  if (samples.length < 2) return null;
  let total = 0;
  for (let i = 1; i < samples.length; i++) total += increase(pick(samples[i - 1]!), pick(samples[i]!));
  return total;
}

const span = (samples: readonly InstanceSample[]) => (samples.length < 2 ? 0 : (samples[samples.length - 1]!.at - samples[0]!.at) / 1000);

/** Each rule's condition now: the label sets for which it holds, with the value; null = no data (keep the state). */
const CONDITIONS: Record<AlertName, (input: AlertInput) => Condition[] | null> = {
  ChatDeadLetters: ({ instances }) => {
    const t = ALERT_THRESHOLDS.ChatDeadLetters;
    const byGroup = new Map<string, number>();
    for (const i of instances) {
      const samples = within(i.window, t.windowSeconds);
      for (const group of Object.keys(i.sample.counters.deadLettered)) {
        byGroup.set(group, (byGroup.get(group) ?? 0) + (windowIncrease(samples, (s) => s.counters.deadLettered[group] ?? 0) ?? 0));
      }
    }
    return [...byGroup].filter(([, n]) => n > t.above).map(([group, value]) => ({ labels: { group }, value }));
  },
  ChatConsumerLagHigh: ({ lag }) =>
    lag === null
      ? null
      : lag
          .filter((e) => e.lag > ALERT_THRESHOLDS.ChatConsumerLagHigh.above)
          .map((e) => ({ labels: { group: e.group, topic: e.topic, partition: String(e.partition) }, value: e.lag })),
  ChatConsumerGroupNotReady: ({ instances }) =>
    instances.flatMap((i) => i.sample.groups.filter((g) => !g.ready).map((g) => ({ labels: { instance_id: i.sample.id, group: g.group }, value: 0 }))),
  ChatHttp5xxRateHigh: ({ instances }) =>
    instances.flatMap((i) => {
      const samples = within(i.window, ALERT_THRESHOLDS.ChatHttp5xxRateHigh.windowSeconds);
      const total = windowIncrease(samples, (s) => s.counters.httpApi);
      const failed = windowIncrease(samples, (s) => s.counters.httpApi5xx);
      if (!total || failed === null) return [];
      const ratio = failed / total;
      return ratio > ALERT_THRESHOLDS.ChatHttp5xxRateHigh.above ? [{ labels: { instance_id: i.sample.id }, value: ratio }] : [];
    }),
  ChatStompErrorRateHigh: ({ instances }) =>
    instances.flatMap((i) => {
      const samples = within(i.window, ALERT_THRESHOLDS.ChatStompErrorRateHigh.windowSeconds);
      const seconds = span(samples);
      if (seconds <= 0) return [];
      return Object.keys(i.sample.counters.stompErrors).flatMap((code) => {
        const rate = (windowIncrease(samples, (s) => s.counters.stompErrors[code] ?? 0) ?? 0) / seconds;
        return rate > ALERT_THRESHOLDS.ChatStompErrorRateHigh.above ? [{ labels: { instance_id: i.sample.id, code }, value: rate }] : [];
      });
    }),
  ChatInstanceDown: ({ lost }) => [...lost.keys()].map((id) => ({ labels: { instance_id: id }, value: 0 })),
  ChatE2eLatencyP99High: ({ instances }) =>
    instances.flatMap((i) => {
      const t = ALERT_THRESHOLDS.ChatE2eLatencyP99High;
      const samples = within(i.window, t.windowSeconds);
      if (samples.length < 2) return [];
      const p = histogramQuantile(t.quantile, bucketIncrease(samples[0]!, samples[samples.length - 1]!));
      return p !== null && p > t.above ? [{ labels: { instance_id: i.sample.id }, value: p }] : [];
    }),
  // Both webhook rules sum over the cluster, as their PromQL does (no by()).
  ChatWebhookDeliveriesFailed: ({ instances }) => {
    const t = ALERT_THRESHOLDS.ChatWebhookDeliveriesFailed;
    const failed = instances.reduce((n, i) => n + (windowIncrease(within(i.window, t.windowSeconds), (s) => s.counters.webhookDeliveries.failed ?? 0) ?? 0), 0);
    return failed > t.above ? [{ labels: {}, value: failed }] : [];
  },
  ChatWebhookReceiverFailing: ({ instances }) => {
    const t = ALERT_THRESHOLDS.ChatWebhookReceiverFailing;
    let all = 0;
    let failing = 0;
    for (const i of instances) {
      const samples = within(i.window, t.windowSeconds);
      const total = (s: InstanceSample) => Object.values(s.counters.webhookRequests).reduce((a, b) => a + b, 0);
      all += windowIncrease(samples, total) ?? 0;
      failing += windowIncrease(samples, (s) => total(s) - (s.counters.webhookRequests.ok ?? 0)) ?? 0;
    }
    return all > 0 && failing / all > t.above ? [{ labels: {}, value: failing / all }] : [];
  },
};

export class AlertTracker {
  /** When each (rule, label set) started to hold. */
  private readonly since = new Map<string, number>();

  evaluate(input: AlertInput, now = Date.now()): ActiveAlert[] {
    const out: ActiveAlert[] = [];
    for (const name of Object.keys(CONDITIONS) as AlertName[]) {
      const conditions = CONDITIONS[name](input);
      const prefix = `${name}\u0000`;
      if (conditions === null) {
        for (const [key] of this.since) {
          if (key.startsWith(prefix)) out.push(this.alert(name, JSON.parse(key.slice(prefix.length)) as Record<string, string>, NaN, now));
        }
        continue;
      }
      const holding = new Set<string>();
      for (const c of conditions) {
        const key = prefix + JSON.stringify(c.labels);
        holding.add(key);
        if (!this.since.has(key)) this.since.set(key, now);
        out.push(this.alert(name, c.labels, c.value, now));
      }
      for (const key of [...this.since.keys()]) if (key.startsWith(prefix) && !holding.has(key)) this.since.delete(key);
    }
    return out.sort((a, b) => (a.state === b.state ? a.name.localeCompare(b.name) : a.state === 'firing' ? -1 : 1));
  }

  private alert(name: AlertName, labels: Record<string, string>, value: number, now: number): ActiveAlert {
    const t = ALERT_THRESHOLDS[name];
    const since = this.since.get(`${name}\u0000${JSON.stringify(labels)}`) ?? now;
    return {
      name,
      severity: t.severity,
      summary: t.summary,
      labels,
      value,
      state: now - since >= t.forSeconds * 1000 ? 'firing' : 'pending',
      since: new Date(since).toISOString(),
      forSeconds: t.forSeconds,
    };
  }
}
