// LagSource on Kafka: per group and partition, the partition's end offset minus the group's committed offset,
// read with the admin client (OffsetFetch + ListOffsets). The answer is cached briefly and shared by
// concurrent scrapes, so N Prometheus servers scraping at once cost one round of requests.
import type { Admin } from 'kafkajs';
import { TOPICS } from '../shared/defaults.js';
import type { LagEntry, LagSource } from './consumer-lag.js';

/** The slice of kafkajs' Admin the lag source uses (a plain object with these two methods does in tests). */
export type LagAdmin = Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets'>;

export interface WatchedGroup {
  group: string;
  topic: string;
}

/**
 * The application's consumer groups and the topic each reads (src/consumers/*: PERSIST_GROUP, BROADCAST_GROUP,
 * NOTIFY_GROUP on TOPICS.messages; RECEIPTS_GROUP on TOPICS.readReceipts). test/ops/metrics.test.ts checks
 * this list against the pipeline's constants.
 */
export const CONSUMER_GROUP_TOPICS: readonly WatchedGroup[] = Object.freeze([
  { group: 'chat-persist', topic: TOPICS.messages },
  { group: 'chat-broadcast', topic: TOPICS.messages },
  { group: 'chat-notify', topic: TOPICS.messages },
  { group: 'chat-receipts', topic: TOPICS.readReceipts },
]);

export interface KafkaLagSourceOptions {
  admin: LagAdmin;
  /** Groups to report; default CONSUMER_GROUP_TOPICS (every group, whichever roles this process runs). */
  groups?: readonly WatchedGroup[];
  /**
   * Prepended to every group id (config KAFKA_GROUP_PREFIX: deployments or test runs sharing a broker). The
   * `group` label is the full id, as on chat_dead_lettered_total and chat_kafka_consumed_records_total.
   */
  groupPrefix?: string;
  /** How long one answer is reused, ms (default 1000). */
  cacheMs?: number;
  now?: () => number;
}

export class KafkaLagSource implements LagSource {
  private readonly groups: readonly WatchedGroup[];
  private readonly cacheMs: number;
  private readonly now: () => number;
  private cached: { at: number; entries: LagEntry[] } | null = null;
  private inflight: Promise<LagEntry[]> | null = null;

  constructor(private readonly opts: KafkaLagSourceOptions) {
    const prefix = opts.groupPrefix ?? '';
    this.groups = (opts.groups ?? CONSUMER_GROUP_TOPICS).map((g) => ({ group: prefix + g.group, topic: g.topic }));
    this.cacheMs = opts.cacheMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Lag of every partition of every watched group. Rejects when Kafka does not answer (nothing is cached then). */
  lag(): Promise<LagEntry[]> {
    if (this.cached && this.now() - this.cached.at < this.cacheMs) return Promise.resolve(this.cached.entries);
    this.inflight ??= this.fetch()
      .then((entries) => {
        this.cached = { at: this.now(), entries };
        return entries;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  private async fetch(): Promise<LagEntry[]> {
    const { admin } = this.opts;
    const topics = [...new Set(this.groups.map((g) => g.topic))];
    const [ends, committed] = await Promise.all([
      Promise.all(topics.map(async (topic) => [topic, await admin.fetchTopicOffsets(topic)] as const)),
      Promise.all(this.groups.map(async (g) => [g, await admin.fetchOffsets({ groupId: g.group, topics: [g.topic] })] as const)),
    ]);
    const endOf = new Map(ends.map(([topic, parts]) => [topic, new Map(parts.map((p) => [p.partition, p]))]));
    const out: LagEntry[] = [];
    for (const [g, answer] of committed) {
      const partitions = endOf.get(g.topic);
      if (!partitions) continue;
      const offsets = new Map((answer.find((t) => t.topic === g.topic)?.partitions ?? []).map((p) => [p.partition, p.offset]));
      for (const [partition, end] of [...partitions].sort((a, b) => a[0] - b[0])) {
        const high = BigInt(end.high ?? end.offset);
        const low = BigInt(end.low ?? '0');
        const c = BigInt(offsets.get(partition) ?? '-1');
        // No commit yet: the group starts from the beginning (subscribe fromBeginning), so all retained records count.
        const from = c < 0n ? low : c;
        const lag = high > from ? high - from : 0n;
        out.push({ group: g.group, topic: g.topic, partition, lag: Number(lag) });
      }
    }
    return out;
  }
}
