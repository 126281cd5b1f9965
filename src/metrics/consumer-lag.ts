// Scrape-time collectors: Kafka consumer lag (from a LagSource) and consumer-group readiness (from a callback).
// Both run inside prom-client's collect(), so the numbers are as fresh as the scrape, and neither ever throws
// into the scrape: a failing source keeps the previous series and counts the failure.
import type { Counter, Gauge } from 'prom-client';

/** One partition's lag: records in the partition after the group's committed offset. */
export interface LagEntry {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

/**
 * Where lag figures come from (kafka-lag.ts reads Kafka's committed and end offsets). May reject; may be
 * slow — the collector bounds the wait. Implementations should cache, since every scrape asks.
 */
export interface LagSource {
  lag(): Promise<LagEntry[]>;
}

/** One consumer group this process runs, and whether its consumer is up (joined, not crashed). */
export interface ConsumerGroupReadiness {
  group: string;
  ready: boolean;
}

export type ReadinessProvider = () => Iterable<ConsumerGroupReadiness>;

/** How long a scrape waits for the lag source before keeping the previous figures. */
export const LAG_COLLECT_TIMEOUT_MS = 2000;

/**
 * Fills `gauge` (labels group, topic, partition) from the attached source on each collect. Without a
 * source it leaves the gauge alone. On a successful answer the gauge is replaced as a whole (a partition
 * that disappeared disappears); on an error or a timeout the previous series stay and `errors` counts it.
 */
export class ConsumerLagCollector {
  private source: LagSource | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly errors: Pick<Counter, 'inc'>,
    private readonly timeoutMs = LAG_COLLECT_TIMEOUT_MS,
  ) {}

  attach(source: LagSource | null): void {
    this.source = source;
  }

  /** Resolves when the collect in progress (if any) is done: the error counter's collect waits on it. */
  settled(): Promise<void> {
    return this.running;
  }

  collect(gauge: Pick<Gauge<'group' | 'topic' | 'partition'>, 'reset' | 'set'>): Promise<void> {
    this.running = this.update(gauge);
    return this.running;
  }

  private async update(gauge: Pick<Gauge<'group' | 'topic' | 'partition'>, 'reset' | 'set'>): Promise<void> {
    const source = this.source;
    if (!source) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const entries = await Promise.race([
        source.lag(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`lag source did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      // Synchronous from here to the end: prom-client reads the values right after collect() resolves.
      gauge.reset();
      for (const e of entries) gauge.set({ group: e.group, topic: e.topic, partition: String(e.partition) }, e.lag);
    } catch {
      this.errors.inc();
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Fills `gauge` (label group) with 1 / 0 from the attached provider on each collect; never throws. */
export class ConsumerGroupReadyCollector {
  private provider: ReadinessProvider | null = null;

  attach(provider: ReadinessProvider | null): void {
    this.provider = provider;
  }

  collect(gauge: Pick<Gauge<'group'>, 'reset' | 'set'>): void {
    const provider = this.provider;
    if (!provider) return;
    let states: ConsumerGroupReadiness[];
    try {
      states = [...provider()];
    } catch {
      return; // keep the previous figures rather than break the scrape
    }
    gauge.reset();
    for (const s of states) gauge.set({ group: s.group }, s.ready ? 1 : 0);
  }
}
