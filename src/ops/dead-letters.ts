// Dead letters for operators: list, replay and discard — one implementation for `npm run dlt` (Kafka) and the
// operations console (Kafka in cluster mode, the local topic in embedded mode).
//
// Replay re-publishes a record to its source topic and partition (x-source-topic, x-source-partition) with its key
// and original headers — the dead-letter headers dropped, x-replayed-from-dlt-offset added — so every consumer
// group of the source topic sees it again (they are idempotent on message id; the broadcast group skips a message
// already stored). A record dead-lettered by several groups is one DLT record per group: a replay publishes one
// copy per source record and marks every selected copy. A record that is still poison is dead-lettered again.
//
// Discard: the topic is append-only, so nothing is deleted. Both actions write a durable mark (store/
// dead-letter-marks.ts): marked records leave the pending list and the pending count; `--all` / include=all shows
// them with their mark. Every action logs an audit line naming who did it.
import type { Logger } from 'pino';
import { DLT_HEADERS, REPLAYED_HEADER, recordDigest, type DeadLetterRecord, type DeadLetterTopic } from '../log/dead-letter.js';
import type { DeadLetterMark, DeadLetterMarks } from '../store/dead-letter-marks.js';

/** The headers a dead-lettering or a replay adds: not part of the original record. */
const ADDED_HEADERS = new Set<string>([...Object.values(DLT_HEADERS), REPLAYED_HEADER]);
const PREVIEW_CHARS = 200;
/** Records one list call reads at most while looking for pending ones (bounds the work of a mostly handled topic). */
const SCAN_BUDGET = 5000;

export interface DeadLetterRef {
  partition: number;
  offset: string;
}

/** One dead letter as the console and `dlt list --json` show it. */
export interface DeadLetterEntry extends DeadLetterRef {
  timestamp: string | null;
  group: string | null;
  sourceTopic: string | null;
  sourcePartition: number | null;
  sourceOffset: string | null;
  attempts: number | null;
  error: string | null;
  replayedFrom: string | null;
  key: string | null;
  /** The value as UTF-8, cut to 200 characters (`value` has it whole, for the CLI's --json). */
  preview: string | null;
  value?: string | null;
  headers?: Record<string, string>;
  handled: Omit<DeadLetterMark, 'topic' | 'partition' | 'offset' | 'digest'> | null;
}

export interface ReplayResult {
  replayed: Array<DeadLetterRef & { topic: string; toPartition: number; toOffset: string }>;
  /** Further DLT copies of a source record replayed in the same call (one per failing consumer group). */
  sameSource: Array<DeadLetterRef & { source: string }>;
  /** Records without usable source coordinates (left pending). */
  skipped: Array<DeadLetterRef & { reason: string }>;
}

const num = (v: string | undefined) => (v === undefined || !/^\d+$/.test(v) ? null : Number(v));
const sourceOf = (r: DeadLetterRecord) =>
  `${r.headers[DLT_HEADERS.sourceTopic] ?? '?'}[${r.headers[DLT_HEADERS.sourcePartition] ?? '?'}]@${r.headers[DLT_HEADERS.sourceOffset] ?? '?'}`;

export function toEntry(r: DeadLetterRecord, mark: DeadLetterMark | undefined, full = false): DeadLetterEntry {
  const h = r.headers;
  const text = r.value === null ? null : r.value.toString('utf8');
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    group: h[DLT_HEADERS.group] ?? null,
    sourceTopic: h[DLT_HEADERS.sourceTopic] ?? null,
    sourcePartition: num(h[DLT_HEADERS.sourcePartition]),
    sourceOffset: h[DLT_HEADERS.sourceOffset] ?? null,
    attempts: num(h[DLT_HEADERS.attempts]),
    error: h[DLT_HEADERS.error] ?? null,
    replayedFrom: h[REPLAYED_HEADER] ?? null,
    key: r.key,
    preview: text === null ? null : text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text,
    ...(full ? { value: text, headers: h } : {}),
    handled: mark ? { action: mark.action, actor: mark.actor, replayedTo: mark.replayedTo, at: mark.at } : null,
  };
}

export interface ListOptions {
  limit: number;
  /** Continue below this cursor (the previous page's `next`). */
  before?: string | null;
  group?: string;
  /** `pending` (default) hides handled records. */
  include?: 'pending' | 'all';
}

export class DeadLetters {
  constructor(
    private readonly topic: DeadLetterTopic,
    private readonly marks: DeadLetterMarks,
    private readonly log: Logger,
  ) {}

  get topicName(): string {
    return this.topic.topic;
  }

  /** Records in the topic that nobody replayed or discarded. */
  async pending(): Promise<number> {
    let n = 0;
    for (const b of await this.bounds()) {
      if (b.high > b.low) n += Number(b.high - b.low) - (await this.marks.countMarked(this.topic.topic, b.partition, b.low, b.high));
    }
    return n;
  }

  /** Newest first, partition by partition; `next` continues the list (null at the start of the topic). */
  async list(opts: ListOptions): Promise<{ records: DeadLetterEntry[]; next: string | null }> {
    const bounds = await this.bounds();
    const cursor = parseCursor(opts.before);
    const out: DeadLetterEntry[] = [];
    let budget = SCAN_BUDGET;
    for (const b of bounds) {
      if (cursor && b.partition < cursor.partition) continue;
      let high = cursor && b.partition === cursor.partition ? (cursor.offset < b.high ? cursor.offset : b.high) : b.high;
      while (high > b.low) {
        if (out.length >= opts.limit || budget <= 0) return { records: out, next: `${b.partition}:${high}` };
        const chunk = BigInt(Math.min(budget, Math.max(100, (opts.limit - out.length) * 2)));
        const from = high - chunk > b.low ? high - chunk : b.low;
        const records = await this.topic.read(b.partition, from, high, Number(high - from));
        budget -= records.length;
        const marks = await this.marksOf(b.partition, records);
        for (let i = records.length - 1; i >= 0 && out.length < opts.limit; i--) {
          const r = records[i]!;
          if (opts.group !== undefined && r.headers[DLT_HEADERS.group] !== opts.group) continue;
          const mark = marks.get(r.offset);
          if (mark && opts.include !== 'all') continue;
          out.push(toEntry(r, mark));
          const atStart = i === 0 && from <= b.low && b === bounds[bounds.length - 1];
          if (out.length >= opts.limit) return { records: out, next: atStart ? null : `${b.partition}:${r.offset}` };
        }
        high = from;
      }
    }
    return { records: out, next: null };
  }

  /** Oldest first from `fromOffset` (default: the earliest retained) to the end the topic had when called (the CLI's selection). */
  async select(sel: {
    fromOffset?: bigint;
    limit?: number;
    group?: string;
    include?: 'pending' | 'all';
  }): Promise<Array<{ record: DeadLetterRecord; mark?: DeadLetterMark }>> {
    const out: Array<{ record: DeadLetterRecord; mark?: DeadLetterMark }> = [];
    const limit = sel.limit ?? Number.MAX_SAFE_INTEGER;
    for (const b of await this.bounds()) {
      let from = sel.fromOffset !== undefined && sel.fromOffset > b.low ? sel.fromOffset : b.low;
      while (from < b.high && out.length < limit) {
        const records = await this.topic.read(b.partition, from, b.high, 1000);
        if (records.length === 0) break;
        from = BigInt(records[records.length - 1]!.offset) + 1n;
        const marks = await this.marksOf(b.partition, records);
        for (const record of records) {
          const mark = marks.get(record.offset);
          if ((sel.group !== undefined && record.headers[DLT_HEADERS.group] !== sel.group) || (mark && sel.include !== 'all')) continue;
          if (out.length < limit) out.push({ record, ...(mark ? { mark } : {}) });
        }
      }
    }
    return out;
  }

  /** The records at these coordinates (missing ones are left out), in topic order. */
  async get(refs: readonly DeadLetterRef[]): Promise<DeadLetterRecord[]> {
    const bounds = new Map((await this.topic.bounds()).map((b) => [b.partition, b]));
    const byPartition = new Map<number, bigint[]>();
    for (const ref of refs) {
      const b = bounds.get(ref.partition);
      const o = BigInt(ref.offset);
      if (b && o >= b.low && o < b.high) byPartition.set(ref.partition, [...(byPartition.get(ref.partition) ?? []), o]);
    }
    const out: DeadLetterRecord[] = [];
    for (const [partition, offsets] of [...byPartition].sort((a, b) => a[0] - b[0])) {
      const sorted = [...new Set(offsets)].sort((a, b) => (a < b ? -1 : 1));
      // Runs of nearby offsets share one read.
      for (let i = 0; i < sorted.length;) {
        let j = i;
        while (j + 1 < sorted.length && sorted[j + 1]! - sorted[i]! < 1000n) j++;
        const wanted = new Set(sorted.slice(i, j + 1).map(String));
        const read = await this.topic.read(partition, sorted[i]!, sorted[j]! + 1n, Number(sorted[j]! - sorted[i]! + 1n));
        out.push(...read.filter((r) => wanted.has(r.offset)));
        i = j + 1;
      }
    }
    return out;
  }

  /** Re-publishes the records to their source partitions (one copy per source record), marks them, logs who did it. */
  async replay(records: readonly DeadLetterRecord[], actor: string, dryRun = false): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: [], sameSource: [], skipped: [] };
    const partitionsOf = new Map<string, number>();
    const sent = new Map<string, string>();
    for (const r of records) {
      const ref = { partition: r.partition, offset: r.offset };
      const topic = r.headers[DLT_HEADERS.sourceTopic];
      const partition = num(r.headers[DLT_HEADERS.sourcePartition]);
      if (!topic || partition === null) {
        result.skipped.push({ ...ref, reason: `no ${DLT_HEADERS.sourceTopic} / ${DLT_HEADERS.sourcePartition} header` });
        continue;
      }
      if (!partitionsOf.has(topic)) partitionsOf.set(topic, await this.topic.partitionCount(topic));
      if (partition >= partitionsOf.get(topic)!) {
        result.skipped.push({ ...ref, reason: `${topic} has no partition ${partition}` });
        continue;
      }
      const source = sourceOf(r);
      if (sent.has(source)) {
        result.sameSource.push({ ...ref, source });
        continue;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) if (!ADDED_HEADERS.has(k)) headers[k] = v;
      headers[REPLAYED_HEADER] = r.offset;
      const toOffset = dryRun ? '(dry run)' : await this.topic.append(topic, partition, { key: r.key, value: r.value, headers });
      sent.set(source, `${topic}[${partition}]@${toOffset}`);
      result.replayed.push({ ...ref, topic, toPartition: partition, toOffset });
    }
    if (dryRun) return result;
    const byOffset = new Map(records.map((r) => [`${r.partition}:${r.offset}`, r]));
    const done = [...result.replayed, ...result.sameSource].map((ref) => ({ ref, to: sent.get(sourceOf(byOffset.get(`${ref.partition}:${ref.offset}`)!))! }));
    const topic = this.topic.topic;
    await this.marks.mark(
      done.map(({ ref, to }) => {
        const digest = recordDigest(byOffset.get(`${ref.partition}:${ref.offset}`)!);
        return { topic, partition: ref.partition, offset: ref.offset, digest, action: 'replayed' as const, actor, replayedTo: to };
      }),
    );
    for (const { ref, to } of done) this.audit('replayed', actor, ref, { replayedTo: to });
    return result;
  }

  /** Marks the records discarded: they leave the pending list and count; the topic keeps them. */
  async discard(records: readonly DeadLetterRecord[], actor: string): Promise<DeadLetterRef[]> {
    const refs = records.map((r) => ({ partition: r.partition, offset: r.offset }));
    await this.marks.mark(
      refs.map((ref, i) => ({ topic: this.topic.topic, ...ref, digest: recordDigest(records[i]!), action: 'discarded' as const, actor, replayedTo: null })),
    );
    for (const [i, ref] of refs.entries())
      this.audit('discarded', actor, ref, { group: records[i]!.headers[DLT_HEADERS.group] ?? null, source: sourceOf(records[i]!) });
    return refs;
  }

  /**
   * The topic's partitions, after dropping the marks of an earlier topic of the same name (a new Kafka cluster, a
   * wiped data folder: offsets start again at 0 while the store keeps its marks). A mark at or past a partition's
   * end, made before the end was read, proves it; marksOf below catches the re-created topic that has already
   * grown past the old marks.
   */
  private async bounds(): Promise<Array<{ partition: number; low: bigint; high: bigint }>> {
    const before = new Date();
    const bounds = await this.topic.bounds();
    for (const b of bounds) {
      const n = await this.marks.forgetIfRecreated(this.topic.topic, b.partition, b.high, before);
      if (n > 0)
        this.log.warn(
          { topic: this.topic.topic, partition: b.partition, end: b.high.toString(), marks: n },
          'dead-letter topic re-created: the marks of the earlier one deleted',
        );
    }
    return bounds;
  }

  /** The marks that name these very records (same digest); a mark naming another record at the offset is deleted. */
  private async marksOf(partition: number, records: readonly DeadLetterRecord[]): Promise<Map<string, DeadLetterMark>> {
    const marks = await this.marks.marksOf(
      this.topic.topic,
      partition,
      records.map((r) => r.offset),
    );
    const stale: string[] = [];
    for (const r of records) {
      const mark = marks.get(r.offset);
      if (mark && mark.digest !== null && mark.digest !== recordDigest(r)) stale.push(r.offset);
    }
    if (stale.length === 0) return marks;
    this.log.warn({ topic: this.topic.topic, partition, offsets: stale }, 'dead-letter marks of an earlier topic deleted (a different record at their offset)');
    await this.marks.forget(this.topic.topic, partition, stale);
    for (const o of stale) marks.delete(o);
    return marks;
  }

  private audit(action: string, actor: string, ref: DeadLetterRef, more: object): void {
    this.log.info(
      { audit: 'dead-letter', action, actor, topic: this.topic.topic, partition: ref.partition, offset: ref.offset, ...more },
      `dead letter ${action}`,
    );
  }
}

function parseCursor(c: string | null | undefined): { partition: number; offset: bigint } | null {
  const m = c ? /^(\d{1,5}):(\d{1,19})$/.exec(c) : null;
  return m ? { partition: Number(m[1]), offset: BigInt(m[2]!) } : null;
}

export const CURSOR_PATTERN = /^\d{1,5}:\d{1,19}$/;
