// The operations console's engine on every instance: publishes this instance's sample on the fan-out bus every
// OPS_STATS_INTERVAL_MS (Redis Pub/Sub in cluster mode, in-process in embedded mode), hears every instance's,
// and on each tick builds the overview — instances, consumer groups with lag and readiness, rates, latency, the
// pending dead letters and the alerts that hold — keeps a bounded history for the charts, and pushes the overview
// to the STOMP subscribers of /topic/ops on this instance. Consumer lag and the dead-letter count are read every
// tick while someone watches (a subscriber, or a REST call in the last minute), else every 15 s (a Prometheus
// scrape interval) so the alert timers keep running without loading Kafka.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { PreparedMessage } from '../../protocol/index.js';
import type { BusEvent, FanoutBus } from '../fanout/fanout.js';
import type { LagEntry } from '../metrics/consumer-lag.js';
import { histogramQuantile } from './alert-rules.js';
import { AlertTracker, type ActiveAlert } from './alerts.js';
import { bucketIncrease, ClusterView } from './cluster-view.js';
import { withTimeout } from '../shared/timeout.js';
import { decodeSample, type InstanceSample, type StatsSampler } from './stats.js';

/** The bus topic every instance publishes its samples on. */
export const OPS_BUS_TOPIC = 'ops:stats';
/** The STOMP destination of the pushed overview (administrators only). */
export const OPS_DESTINATION = '/topic/ops';
const IDLE_REFRESH_MS = 15_000;
const WATCH_MS = 60_000;
/** A lag or count read that takes longer is given up for this tick (an unreachable Kafka must not stop the pushes). */
const READ_TIMEOUT_MS = 2000;

export interface OpsMonitorDeps {
  instanceId: string;
  intervalMs: number;
  timeoutMs: number;
  historySeconds: number;
  bus: Pick<FanoutBus, 'publishEvent' | 'subscribeTopic' | 'unsubscribeTopic'>;
  sampler: Pick<StatsSampler, 'sample' | 'close'>;
  /** Consumer lag per group and partition (the metrics' source: Kafka offsets, or the local groups). */
  lag: (() => Promise<LagEntry[]>) | null;
  /**
   * Counts shown in the overview under their names (`deadLetters`: pending dead letters), refreshed with the lag.
   * A panel added later (e.g. failed webhook deliveries) adds its count here.
   */
  counts: Record<string, () => Promise<number>>;
  log: Logger;
}

/** A point of the charts: cluster totals at one tick. */
export interface ChartPoint {
  t: number;
  messagesIn: number;
  deliveriesOut: number;
  stompErrors: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Records behind, summed over partitions, by group. */
  lag: Record<string, number>;
  /** Fraction of a core, by instance. */
  cpu: Record<string, number>;
}

export interface OverviewGroup {
  groupId: string;
  topic: string | null;
  lag: number | null;
  /** Some live instance runs the group, and every one that does has its consumer up. */
  ready: boolean;
  members: string[];
  readyMembers: number;
  partitions: Array<{ partition: number; lag: number }>;
}

/** A subscriber of /topic/ops (gateway/subscriptions.ts' TopicSubscription). */
export interface OpsSubscriber {
  pushEvent(frame: PreparedMessage): void;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export class OpsMonitor {
  private readonly view: ClusterView;
  private readonly alerts = new AlertTracker();
  private readonly points: ChartPoint[] = [];
  private readonly subscribers = new Set<OpsSubscriber>();
  private timer: NodeJS.Timeout | null = null;
  private watchedUntil = 0;
  private lag: { at: number; entries: LagEntry[] | null; error: string | null } = { at: 0, entries: null, error: null };
  private readonly counts = new Map<string, { at: number; count: number | null; error: string | null }>();
  private last: ReturnType<OpsMonitor['build']> | null = null;
  private ticking = false;
  private publishFailing = false;

  constructor(private readonly deps: OpsMonitorDeps) {
    this.view = new ClusterView({ timeoutMs: deps.timeoutMs });
  }

  async start(): Promise<void> {
    await this.deps.bus.subscribeTopic(OPS_BUS_TOPIC, (event) => this.onEvent(event));
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  private onEvent(event: BusEvent): void {
    const sample = event.eventType === 'sample' ? decodeSample(event.body) : null;
    if (!sample) return void this.deps.log.debug({ eventType: event.eventType }, 'malformed ops sample dropped');
    this.view.accept(sample);
  }

  private async publish(sample: InstanceSample): Promise<void> {
    await this.deps.bus.publishEvent(OPS_BUS_TOPIC, { eventType: 'sample', body: sample });
  }

  /** One interval: publish our sample, refresh what needs Kafka or the store, evaluate, record, push. */
  async tick(): Promise<void> {
    if (this.ticking) return; // a slow Kafka answer must not stack ticks
    this.ticking = true;
    try {
      await this.publish(await this.deps.sampler.sample()).then(
        () => {
          if (this.publishFailing) this.deps.log.info('ops samples published again');
          this.publishFailing = false;
        },
        (err: unknown) => {
          // Once per outage, not once a second.
          if (!this.publishFailing) this.deps.log.warn({ err }, 'ops sample not published (the fan-out bus is unavailable)');
          this.publishFailing = true;
        },
      );
      const watched = this.subscribers.size > 0 || Date.now() < this.watchedUntil;
      await this.refresh(watched);
      this.last = this.build();
      this.points.push(this.last.point);
      const keep = Math.ceil((this.deps.historySeconds * 1000) / this.deps.intervalMs);
      if (this.points.length > keep) this.points.splice(0, this.points.length - keep);
      if (this.subscribers.size > 0) this.push(this.last);
    } catch (err) {
      this.deps.log.warn({ err }, 'ops tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private async refresh(watched: boolean): Promise<void> {
    const now = Date.now();
    const due = (at: number) => watched || now - at >= IDLE_REFRESH_MS;
    await Promise.all([
      this.deps.lag && due(this.lag.at)
        ? withTimeout(this.deps.lag(), READ_TIMEOUT_MS).then(
            (entries) => void (this.lag = { at: now, entries, error: null }),
            (err: unknown) => void (this.lag = { at: now, entries: null, error: (err as Error).message }),
          )
        : null,
      ...Object.entries(this.deps.counts).map(([name, count]) => {
        const last = this.counts.get(name) ?? { at: 0, count: null, error: null };
        if (!due(last.at)) return null;
        return withTimeout(count(), READ_TIMEOUT_MS).then(
          (n) => void this.counts.set(name, { at: now, count: n, error: null }),
          (err: unknown) => void this.counts.set(name, { at: now, count: last.count, error: (err as Error).message }),
        );
      }),
    ]);
  }

  /** The overview now (REST): reads what it needs fresh, then builds. */
  async overview(): Promise<ReturnType<OpsMonitor['build']>> {
    this.watchedUntil = Date.now() + WATCH_MS;
    await this.refresh(true);
    return this.build();
  }

  /** The charts' points of the last OPS_HISTORY_SECONDS, oldest first. */
  history(): ChartPoint[] {
    this.watchedUntil = Date.now() + WATCH_MS;
    return [...this.points];
  }

  addSubscriber(sub: OpsSubscriber): void {
    this.subscribers.add(sub);
    // The newest overview at once, so a new console does not wait for the next tick.
    if (this.last) sub.pushEvent(this.frame(this.last));
  }

  removeSubscriber(sub: OpsSubscriber): void {
    this.subscribers.delete(sub);
  }

  private push(overview: ReturnType<OpsMonitor['build']>): void {
    const frame = this.frame(overview); // encoded once for every subscriber
    for (const s of this.subscribers) s.pushEvent(frame);
  }

  private frame(overview: ReturnType<OpsMonitor['build']>): PreparedMessage {
    const headers = { 'message-id': randomUUID(), destination: OPS_DESTINATION, 'content-type': 'application/json', 'event-type': 'overview' };
    return new PreparedMessage(headers, Buffer.from(JSON.stringify(overview)));
  }

  /** The overview from what is known now (no I/O). */
  build() {
    const now = Date.now();
    const live = this.view.live();
    const alerts: ActiveAlert[] = this.alerts.evaluate({ instances: live, lost: this.view.lost(), lag: this.lag.entries }, now);
    const instances = live.map(({ sample: s, rates: r, receivedAt }) => ({
      id: s.id,
      roles: s.roles,
      mode: s.mode,
      sessions: s.sessions,
      connections: { ...s.connections, total: s.connections.ws + s.connections.tcp },
      eventLoopLagMs: { p99: round(s.loop.p99Ms), max: round(s.loop.maxMs) },
      cpu: round(r.cpu, 3),
      memory: s.memory,
      rates: { messagesIn: round(r.messagesIn), deliveriesOut: round(r.deliveriesOut), stompErrors: round(r.stompErrors) },
      latencyMs: { p50: r.p50Ms, p99: r.p99Ms },
      groups: s.groups,
      startedAt: new Date(s.startedAt).toISOString(),
      lastSeenMs: now - receivedAt,
    }));
    const groups = this.groups(live);
    const counts: Record<string, number | null> = Object.fromEntries(Object.keys(this.deps.counts).map((name) => [name, this.counts.get(name)?.count ?? null]));
    const sum = (f: (i: (typeof instances)[number]) => number) => round(instances.reduce((a, i) => a + f(i), 0));
    // Cluster quantiles from every instance's bucket increases since its previous sample.
    const merged = new Map<number, number>();
    for (const i of live) for (const [le, c] of bucketIncrease(i.prev, i.sample)) if (i.prev) merged.set(le, (merged.get(le) ?? 0) + c);
    const buckets = [...merged].sort((a, b) => a[0] - b[0]);
    const ms = (q: number) => {
      const v = histogramQuantile(q, buckets);
      return v === null ? null : round(v * 1000, 1);
    };
    const point: ChartPoint = {
      t: now,
      messagesIn: sum((i) => i.rates.messagesIn),
      deliveriesOut: sum((i) => i.rates.deliveriesOut),
      stompErrors: sum((i) => i.rates.stompErrors),
      p50Ms: ms(0.5),
      p99Ms: ms(0.99),
      lag: Object.fromEntries(groups.filter((g) => g.lag !== null).map((g) => [g.groupId, g.lag!])),
      cpu: Object.fromEntries(instances.map((i) => [i.id, i.cpu])),
    };
    return {
      at: new Date(now).toISOString(),
      servedBy: this.deps.instanceId,
      intervalMs: this.deps.intervalMs,
      instances,
      groups,
      lagError: this.lag.error,
      deadLetters: counts.deadLetters ?? null,
      /** Every count of `deps.counts` by name (deadLetters, and what later panels add). */
      counts,
      countErrors: Object.fromEntries([...this.counts].filter(([, c]) => c.error !== null).map(([name, c]) => [name, c.error])),
      totals: {
        messagesIn: point.messagesIn,
        deliveriesOut: point.deliveriesOut,
        stompErrors: point.stompErrors,
        sessions: sum((i) => i.sessions),
        connections: sum((i) => i.connections.total),
      },
      latencyMs: { p50: point.p50Ms, p99: point.p99Ms },
      alerts,
      point,
    };
  }

  private groups(live: ReturnType<ClusterView['live']>): OverviewGroup[] {
    const byId = new Map<string, OverviewGroup>();
    const get = (groupId: string, topic: string | null) => {
      let g = byId.get(groupId);
      if (!g) byId.set(groupId, (g = { groupId, topic, lag: null, ready: false, members: [], readyMembers: 0, partitions: [] }));
      return g;
    };
    for (const e of this.lag.entries ?? []) {
      const g = get(e.group, e.topic);
      g.lag = (g.lag ?? 0) + e.lag;
      g.partitions.push({ partition: e.partition, lag: e.lag });
    }
    for (const i of live) {
      for (const r of i.sample.groups) {
        const g = get(r.group, null);
        g.members.push(i.sample.id);
        if (r.ready) g.readyMembers++;
      }
    }
    for (const g of byId.values()) g.ready = g.members.length > 0 && g.readyMembers === g.members.length;
    return [...byId.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  /** Says goodbye on the bus (the instance leaves the other consoles at once, not as "down"), then stops. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.subscribers.clear();
    try {
      await this.publish(await this.deps.sampler.sample(true));
    } catch {
      // best effort: the others time it out (and count it as down) if the goodbye is lost
    }
    this.deps.sampler.close();
    // Closing: the handler is gone already, and the bus connection closes after the monitor.
    await this.deps.bus.unsubscribeTopic(OPS_BUS_TOPIC).catch(() => {});
  }
}

export type Overview = ReturnType<OpsMonitor['build']>;
