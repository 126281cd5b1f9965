// This instance's live figures for the operations console, sampled from what src/metrics/ already counts (the
// registry's counters, histograms and process gauges), plus the sessions and the consumer groups' readiness. Each
// sample carries cumulative counters (like a Prometheus scrape), so a receiver derives rates from any two samples
// and a lost publish costs nothing but resolution. The wire form is checked with zod on the way in.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { z } from 'zod';

const count = z.number().finite().min(0);
const name = z.string().min(1).max(200);
const counterMap = z.record(name, count).refine((m) => Object.keys(m).length <= 64, 'too many keys');

export const sampleSchema = z.object({
  v: z.literal(1),
  id: name,
  roles: z.array(z.string().max(20)).max(10),
  mode: z.enum(['embedded', 'cluster']),
  startedAt: z.number().int(),
  at: z.number().int(),
  leaving: z.boolean().optional(),
  sessions: count,
  connections: z.object({ ws: count, tcp: count }),
  loop: z.object({ p99Ms: count, maxMs: count }),
  cpuSeconds: count,
  memory: z.object({ rssBytes: count, heapUsedBytes: count }),
  counters: z.object({
    messagesIn: count,
    deliveriesOut: count,
    stompErrors: counterMap,
    deadLettered: counterMap,
    httpApi: count,
    httpApi5xx: count,
    /** chat_webhook_requests_total by outcome and chat_webhook_deliveries_total by outcome (empty without a webhook). */
    webhookRequests: counterMap.default({}),
    webhookDeliveries: counterMap.default({}),
    /** SEND -> MESSAGE latency (chat_message_e2e_latency_seconds): [upper bound in s (+Inf as null), cumulative count]. */
    e2e: z.array(z.tuple([z.number().positive().nullable(), count])).max(40),
  }),
  groups: z.array(z.object({ group: name, ready: z.boolean() })).max(32),
});

/** One instance's figures at one moment (what each instance publishes on the bus every OPS_STATS_INTERVAL_MS). */
export type InstanceSample = z.infer<typeof sampleSchema>;

/** null when the payload is not a sample (dropped at the edge of the process). */
export function decodeSample(body: unknown): InstanceSample | null {
  const r = sampleSchema.safeParse(body);
  return r.success ? r.data : null;
}

export interface SamplerDeps {
  instanceId: string;
  roles: readonly string[];
  mode: 'embedded' | 'cluster';
  registry: Registry;
  /** Authenticated STOMP sessions on this instance. */
  sessions(): number;
  /** The consumer groups this process runs and whether each is up. */
  groups(): Array<{ group: string; ready: boolean }>;
}

/** The event-loop histogram's timer period: what it records is this period plus the delay, so it is taken off. */
const LOOP_RESOLUTION_MS = 10;

type Values = Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;

export class StatsSampler {
  private readonly startedAt = Date.now();
  /**
   * Our own event-loop histogram: prom-client's nodejs_eventloop_lag_* gauges reset theirs at every collect, so
   * reading them each second would empty what a Prometheus scrape reports.
   */
  private readonly loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

  constructor(private readonly deps: SamplerDeps) {
    this.loop.enable();
  }

  async sample(leaving = false): Promise<InstanceSample> {
    const get = async (metric: string): Promise<Values> => ((await this.deps.registry.getSingleMetric(metric)?.get())?.values ?? []) as Values;
    // prom-client sets these gauges in their sibling's collect: run that first.
    await Promise.all([get('process_cpu_user_seconds_total'), get('nodejs_heap_size_total_bytes')]);
    const [connections, sent, delivered, errors, dead, http, e2e, cpu, rss, heap, hookRequests, hookDeliveries] = (await Promise.all(
      [
        'chat_sessions_active',
        'chat_messages_sent_total',
        'chat_messages_delivered_total',
        'chat_stomp_errors_total',
        'chat_dead_lettered_total',
        'chat_http_requests_total',
        'chat_message_e2e_latency_seconds',
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_heap_size_used_bytes',
        'chat_webhook_requests_total',
        'chat_webhook_deliveries_total',
      ].map(get),
    )) as Values[] as [Values, Values, Values, Values, Values, Values, Values, Values, Values, Values, Values, Values];
    const sum = (vs: Values) => vs.reduce((a, v) => a + v.value, 0);
    const byLabel = (vs: Values, label: string) => Object.fromEntries(vs.map((v) => [String(v.labels[label]), v.value]));
    const api = http.filter((v) => String(v.labels.route).startsWith('/api/'));
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) : 0);
    const loop = { p99Ms: ms(this.loop.percentile(99)), maxMs: ms(this.loop.max) };
    this.loop.reset();
    return {
      v: 1,
      id: this.deps.instanceId,
      roles: [...this.deps.roles],
      mode: this.deps.mode,
      startedAt: this.startedAt,
      at: Date.now(),
      ...(leaving ? { leaving } : {}),
      sessions: this.deps.sessions(),
      connections: { ws: sum(connections.filter((v) => v.labels.transport === 'ws')), tcp: sum(connections.filter((v) => v.labels.transport === 'tcp')) },
      loop,
      cpuSeconds: sum(cpu),
      memory: { rssBytes: sum(rss), heapUsedBytes: sum(heap) },
      counters: {
        messagesIn: sum(sent),
        deliveriesOut: sum(delivered),
        stompErrors: byLabel(errors, 'code'),
        deadLettered: byLabel(dead, 'group'),
        httpApi: sum(api),
        httpApi5xx: sum(api.filter((v) => String(v.labels.status).startsWith('5'))),
        webhookRequests: byLabel(hookRequests, 'outcome'),
        webhookDeliveries: byLabel(hookDeliveries, 'outcome'),
        e2e: e2e
          .filter((v) => v.metricName?.endsWith('_bucket'))
          .map((v) => [v.labels.le === '+Inf' ? null : Number(v.labels.le), v.value] as [number | null, number])
          .sort((a, b) => (a[0] ?? Infinity) - (b[0] ?? Infinity)),
      },
      groups: this.deps.groups(),
    };
  }

  close(): void {
    this.loop.disable();
  }
}
