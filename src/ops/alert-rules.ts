// The one source of the alert thresholds: compose/prometheus/alerts.yml states the same numbers in PromQL and
// test/ops/alert-thresholds.test.ts checks that the two agree (threshold, window, quantile and `for:` of every
// rule), so the console (alerts.ts) and Prometheus fire on the same conditions.

export interface AlertThreshold {
  /** The `for:` of the rule, seconds: the condition must hold this long before the alert fires. */
  forSeconds: number;
  /** The range of the rule's rate()/increase(), seconds (absent for instant conditions). */
  windowSeconds?: number;
  /** The comparison at the end of the expression: `value > above` (or `== equals`). */
  above?: number;
  equals?: number;
  /** histogram_quantile's q. */
  quantile?: number;
  severity: 'critical' | 'warning';
  /** One line for the console (the rule's annotations have the full text). */
  summary: string;
}

export const ALERT_THRESHOLDS = {
  ChatDeadLetters: { forSeconds: 60, windowSeconds: 600, above: 0, severity: 'warning', summary: 'a consumer group dead-lettered records' },
  ChatConsumerLagHigh: { forSeconds: 300, above: 1000, severity: 'warning', summary: 'a group is more than 1000 records behind on a partition' },
  ChatConsumerGroupNotReady: { forSeconds: 120, equals: 0, severity: 'critical', summary: "an instance's consumer of a group is down" },
  ChatHttp5xxRateHigh: { forSeconds: 300, windowSeconds: 300, above: 0.05, severity: 'critical', summary: 'more than 5 % of API requests fail' },
  ChatStompErrorRateHigh: { forSeconds: 300, windowSeconds: 300, above: 1, severity: 'warning', summary: 'more than one STOMP ERROR per second for one code' },
  ChatInstanceDown: { forSeconds: 60, equals: 0, severity: 'critical', summary: 'an instance stopped reporting' },
  ChatE2eLatencyP99High: {
    forSeconds: 600,
    windowSeconds: 300,
    quantile: 0.99,
    above: 0.5,
    severity: 'warning',
    summary: 'p99 send-to-delivery latency above 0.5 s',
  },
  ChatWebhookDeliveriesFailed: {
    forSeconds: 60,
    windowSeconds: 900,
    above: 0,
    severity: 'warning',
    summary: 'offline-notification webhook deliveries were given up',
  },
  ChatWebhookReceiverFailing: { forSeconds: 300, windowSeconds: 300, above: 0.5, severity: 'warning', summary: 'more than half of the webhook POSTs fail' },
} as const satisfies Record<string, AlertThreshold>;

export type AlertName = keyof typeof ALERT_THRESHOLDS;

/**
 * Prometheus' histogram_quantile over cumulative bucket counts [upper bound, count] sorted by bound (+Inf last):
 * linear interpolation inside the bucket holding the rank, the lowest bucket from 0, and the highest finite bound
 * when the rank falls in +Inf. null when there are no observations.
 */
export function histogramQuantile(q: number, buckets: ReadonlyArray<readonly [number, number]>): number | null {
  if (buckets.length < 2) return null;
  const total = buckets[buckets.length - 1]![1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let i = buckets.findIndex(([, c]) => c >= rank);
  if (i < 0) i = buckets.length - 1;
  if (i === buckets.length - 1) return buckets[buckets.length - 2]![0];
  const [upper, count] = buckets[i]!;
  const [lower, below] = i === 0 ? [0, 0] : buckets[i - 1]!;
  if (count === below) return upper;
  return lower + ((upper - lower) * (rank - below)) / (count - below);
}

/** Seconds of a PromQL duration (`90s`, `5m`, `1h`). */
export function durationSeconds(d: string): number {
  const m = /^(\d+)([smh])$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}
