// Consumer groups on the embedded message log. Like Kafka's: every group gets every record of its topic, a new
// group starts at the beginning, each partition is processed in order in batches (what arrived since the last
// batch, capped) through runBatch (retries, bisection, dead letters), and a partition's offset is committed only
// after its batch was handled — to <log dir>/groups/<group>.json, replaced atomically (write, fdatasync, rename) —
// so after a crash the uncommitted records are delivered again. Readers are woken by the append itself, not by
// polling. One member of a group runs at a time; a second one started with the same id waits and takes over when
// the first closes (Kafka's rebalance, in one process).
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LagEntry } from '../metrics/consumer-lag.js';
import type { Metrics } from '../metrics/metrics.js';
import { runBatch, type RunnerOptions } from '../log/consumer-runner.js';
import type { LocalMessageLog, LocalTopic } from './local-log.js';
import type { Cursor } from './partition.js';
import type { ConsumedRecord, ConsumerGroup, ConsumerGroupOptions, ConsumerGroups, MessageLog } from '../log/message-log.js';
import { TOPICS } from '../log/message-log.js';

export interface LocalConsumerGroupsOptions {
  log: LocalMessageLog;
  logger: Logger;
  metrics?: Metrics;
  /** Where poison records go (chat.messages.dlt); the log itself by default. */
  deadLetter?: Pick<MessageLog, 'publish'>;
  maxAttempts?: number;
  backoffMs?: number;
  /** fdatasync offset files before the commit counts (default true). */
  fsync?: boolean;
  /** Caps on one batch (Kafka: max.poll.records / fetch size). */
  maxBatchRecords?: number;
  maxBatchBytes?: number;
}

/** The groups of one log. Make one per LocalMessageLog: it is where members of the same group meet. */
export class LocalConsumerGroups implements ConsumerGroups {
  private readonly members = new Map<string, LocalConsumerGroup[]>();
  private readonly offsetFiles = new Map<string, OffsetFile>();

  constructor(private readonly opts: LocalConsumerGroupsOptions) {}

  create(options: ConsumerGroupOptions): ConsumerGroup {
    this.opts.log.topic(options.topic); // an unknown topic fails here, not later in start()
    let file = this.offsetFiles.get(options.groupId);
    if (!file) {
      file = new OffsetFile(join(this.opts.log.dir, 'groups'), options.groupId, this.opts.fsync ?? true);
      this.offsetFiles.set(options.groupId, file);
    }
    return new LocalConsumerGroup(
      { ...this.opts, ...options, logger: this.opts.logger.child({ group: options.groupId }) },
      file,
      this.membership(`${options.groupId}\u0000${options.topic}`),
    );
  }

  /** Records after each running group's committed offset, per partition (for the lag metric). */
  async lag(): Promise<LagEntry[]> {
    const out: LagEntry[] = [];
    for (const list of this.members.values()) out.push(...(list[0]?.lag() ?? []));
    return out;
  }

  private membership(key: string): Membership {
    return {
      join: (member) => {
        const list = this.members.get(key) ?? [];
        list.push(member);
        this.members.set(key, list);
        return list.length === 1;
      },
      leave: (member) => {
        const list = (this.members.get(key) ?? []).filter((m) => m !== member);
        if (list.length === 0) this.members.delete(key);
        else this.members.set(key, list);
        return list[0] ?? null;
      },
    };
  }
}

interface Membership {
  /** true when the member is the group's active one. */
  join(member: LocalConsumerGroup): boolean;
  /** Returns the member that is active now (the next in line when the leaver was active). */
  leave(member: LocalConsumerGroup): LocalConsumerGroup | null;
}

type GroupOptions = LocalConsumerGroupsOptions & ConsumerGroupOptions;

class LocalConsumerGroup implements ConsumerGroup {
  private state: 'new' | 'standby' | 'active' | 'closed' = 'new';
  private stopping = false;
  private closing: Promise<void> | null = null;
  /** Wakes whatever the loops wait on (a write, a pause) when the group stops. */
  private readonly wakers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private readonly failing = new Set<number>();
  /** Next offset to process per partition (what is committed, or about to be). */
  private next: bigint[] = [];
  private unhookClose: (() => void) | null = null;
  private readonly runner: RunnerOptions;

  constructor(
    private readonly opts: GroupOptions,
    private readonly offsets: OffsetFile,
    private readonly membership: Membership,
  ) {
    const { logger, metrics, groupId } = opts;
    const deadLetter = opts.deadLetter ?? opts.log;
    this.runner = {
      groupId,
      handler: opts.handler,
      maxAttempts: opts.maxAttempts,
      backoffMs: opts.backoffMs,
      sleep: (ms) => this.sleep(ms),
      deadLetter: (record, headers) => deadLetter.publish(TOPICS.deadLetter, record.key ?? '', record.value ?? '', headers),
      onDeadLettered: (record, err) => {
        logger.error({ err, groupId, partition: record.partition, offset: record.offset }, 'record dead-lettered');
        metrics?.deadLettered.inc({ group: groupId });
      },
      onTransientFailure: (err, attempt) => logger.warn({ err, groupId, attempt }, 'consumer batch failed on an unavailable service; retrying'),
    };
  }

  get groupId(): string {
    return this.opts.groupId;
  }

  get healthy(): boolean {
    return this.state !== 'closed' && this.failing.size === 0;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`consumer group ${this.groupId} was already started`);
    if (this.opts.log.isClosing) throw new Error('message log closed');
    this.unhookClose = this.opts.log.onClose(() => this.close());
    if (this.membership.join(this)) await this.activate();
    else {
      this.state = 'standby';
      this.opts.logger.info({ groupId: this.groupId }, 'consumer group member waiting: another member is active');
    }
  }

  private async activate(): Promise<void> {
    const topic = this.opts.log.topic(this.opts.topic);
    const committed = await this.offsets.committed(this.opts.topic);
    if (this.stopping) return; // closed while reading the offsets
    this.next = topic.partitions.map((p, i) => {
      const c = committed[i] ?? 0n;
      if (c <= p.endOffset) return c;
      // Committed past the end (the log folder was replaced): start over, as Kafka's reset to earliest.
      this.opts.logger.warn(
        { groupId: this.groupId, partition: i, committed: String(c), end: String(p.endOffset) },
        'committed offset beyond the log; starting from the beginning',
      );
      return 0n;
    });
    this.state = 'active';
    this.loops = topic.partitions.map((_, i) => this.consume(topic, i));
    this.opts.logger.info({ groupId: this.groupId, topic: this.opts.topic, partitions: topic.partitions.length }, 'consumer group joined');
  }

  /** One partition: read what is there, hand it to runBatch, commit, wait for the next write. */
  private async consume(topic: LocalTopic, partition: number): Promise<void> {
    const file = topic.partitions[partition]!;
    const { groupId, metrics } = this.opts;
    let cursor: Cursor | null = null;
    while (!this.stopping) {
      const from = this.next[partition]!;
      if (from >= file.endOffset) {
        // Registered synchronously after the check: an append in between cannot be missed.
        await this.interruptible(file.nextWrite());
        continue;
      }
      let records: ConsumedRecord[];
      try {
        const batch = await file.read(from, cursor, this.opts.maxBatchRecords ?? 500, this.opts.maxBatchBytes ?? 1024 * 1024);
        cursor = batch.next;
        records = batch.records.map((r) => ({
          topic: topic.name,
          partition,
          offset: r.offset.toString(),
          key: r.key,
          value: r.value,
          headers: r.headers,
        }));
      } catch (err) {
        if (this.stopping) break;
        this.fail(partition, err, 'message log read failed');
        cursor = null;
        await this.sleep(1000);
        continue;
      }
      if (records.length === 0) {
        // Cannot happen while from < endOffset; guarded so a bug shows in the log instead of a busy loop.
        this.fail(partition, new Error(`empty read at offset ${from} below end ${file.endOffset}`), 'message log read failed');
        cursor = null;
        await this.sleep(1000);
        continue;
      }
      let done: boolean;
      try {
        done = await runBatch(records, this.runner, { beat: async () => {}, alive: () => !this.stopping });
      } catch (err) {
        // The dead-letter write failed (or no dead letters): the batch is retried after a pause, like a crashed
        // Kafka consumer that restarts from its last commit.
        if (this.stopping) break;
        this.fail(partition, err, 'consumer batch failed; retrying');
        await this.sleep(1000);
        continue;
      }
      if (!done) break; // stopping: nothing committed, the batch comes again after a restart
      const nextOffset = BigInt(records[records.length - 1]!.offset) + 1n;
      this.next[partition] = nextOffset;
      try {
        await this.offsets.commit(this.opts.topic, partition, nextOffset);
        this.failing.delete(partition);
        metrics?.consumedRecords.inc({ group: groupId }, records.length);
        metrics?.consumerBatchSize.observe({ group: groupId }, records.length);
      } catch (err) {
        // The work is done and idempotent; a later commit covers it, or a restart redoes it.
        this.fail(partition, err, 'offset commit failed');
      }
    }
  }

  private fail(partition: number, err: unknown, msg: string): void {
    this.failing.add(partition);
    this.opts.logger.error({ err, groupId: this.groupId, partition }, msg);
  }

  private sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return this.interruptible(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))).finally(() => clearTimeout(timer));
  }

  /**
   * Resolves with `p`, or at once when the group stops. (Not Promise.race with a long-lived stop promise: every
   * race would leave a reaction on it, a leak of one per wait for the life of the group.)
   */
  private interruptible(p: Promise<void>): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.wakers.delete(wake);
        resolve();
      };
      this.wakers.add(wake);
      void p.then(wake, wake);
    });
  }

  lag(): LagEntry[] {
    if (this.state !== 'active') return [];
    const topic = this.opts.log.topic(this.opts.topic);
    return topic.partitions.map((p, i) => ({
      group: this.groupId,
      topic: topic.name,
      partition: i,
      lag: Number(p.endOffset - (this.next[i] ?? 0n)),
    }));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      for (const wake of [...this.wakers]) wake();
      this.unhookClose?.();
      // A batch in flight finishes (and commits) or gives up at its next retry: Kafka's disconnect waits the same way.
      await Promise.allSettled(this.loops);
      const wasActive = this.state === 'active';
      this.state = 'closed';
      const successor = this.membership.leave(this);
      if (wasActive && successor && successor.state === 'standby' && !this.opts.log.isClosing) {
        await successor.activate().catch((err: unknown) => this.opts.logger.error({ err, groupId: this.groupId }, 'consumer group takeover failed'));
      }
    })();
    return this.closing;
  }
}

/** A group's committed offsets: one small JSON file, replaced atomically; concurrent commits share a write. */
class OffsetFile {
  private state: Record<string, Record<string, string>> | null = null;
  private version = 0;
  private persisted = 0;
  private writing: Promise<void> | null = null;
  private readonly path: string;

  constructor(
    private readonly dir: string,
    private readonly groupId: string,
    private readonly fsync: boolean,
  ) {
    const encoded = encodeURIComponent(groupId);
    // File names stay short and free of path syntax whatever the group id is.
    const name = encoded.length <= 120 ? encoded : createHash('sha256').update(groupId).digest('hex');
    this.path = join(dir, `group-${name}.json`);
  }

  private async load(): Promise<Record<string, Record<string, string>>> {
    if (this.state) return this.state;
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as { topics?: Record<string, Record<string, string>> };
      this.state = parsed.topics ?? {};
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw new Error(`cannot read the offsets of group ${this.groupId} (${this.path})`, { cause: err });
      this.state = {};
    }
    return this.state;
  }

  /** The next offset to read per partition (absent: from the beginning). */
  async committed(topic: string): Promise<bigint[]> {
    const state = await this.load();
    const out: bigint[] = [];
    for (const [p, off] of Object.entries(state[topic] ?? {})) out[Number(p)] = BigInt(off);
    return out;
  }

  /** Resolves once a write holding this commit has replaced the file. */
  async commit(topic: string, partition: number, next: bigint): Promise<void> {
    const state = await this.load();
    (state[topic] ??= {})[String(partition)] = next.toString();
    const mine = ++this.version;
    while (this.persisted < mine) {
      if (this.writing) {
        await this.writing.catch(() => {});
        continue;
      }
      const version = this.version;
      this.writing = this.write(JSON.stringify({ groupId: this.groupId, topics: state }))
        .then(() => void (this.persisted = Math.max(this.persisted, version)))
        .finally(() => (this.writing = null));
      await this.writing;
    }
  }

  private async write(json: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(json);
      if (this.fsync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
  }
}
