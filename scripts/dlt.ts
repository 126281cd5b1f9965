// The dead-letter topic tool: inspect and replay chat.messages.dlt.
//
//   npx tsx scripts/dlt.ts list   [--limit N] [--from-offset X] [--group G] [--json]
//   npx tsx scripts/dlt.ts replay [--limit N] [--from-offset X] [--group G] [--json] [--dry-run]
//
// list    prints the dead-lettered records: DLT offset, time, source topic/partition/offset, consumer group,
//         attempts, error and a preview of the value (--json: one JSON object per line, full value).
// replay  re-publishes the selected records to their source topic and partition (x-source-topic,
//         x-source-partition), with their key and original headers (the x-error/x-attempts/x-consumer-group/
//         x-source-* headers the consumer added are dropped) plus `x-replayed-from-dlt-offset`. Every consumer
//         group of the source topic sees the record again: the consumers are idempotent on message id, so a
//         message that was already stored is not stored twice. A record that is still poison is simply
//         dead-lettered again (with the x-replayed-from-dlt-offset header). A poison record is dead-lettered
//         once per consumer group that failed on it; replay publishes one copy per source record.
//
// Selection: records with DLT offset >= --from-offset (default: the earliest retained), at most --limit (default:
// all up to the end of the topic as it was when the command started), optionally only those of one --group.
// Environment: KAFKA_BROKERS (default 127.0.0.1:9092), DLT_TOPIC (default chat.messages.dlt).
// Exit status: 0 done, 1 failed, 2 bad usage.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel, type IHeaders, type logCreator } from 'kafkajs';
import { fixKafkajsRequestQueue } from '../src/pipeline/kafkajs-request-queue-fix.js';

fixKafkajsRequestQueue();

const DLT_TOPIC = process.env.DLT_TOPIC ?? 'chat.messages.dlt';
/** Headers the consumer adds when it dead-letters a record; not part of the original record. */
const DLT_HEADERS = new Set([
  'x-error',
  'x-attempts',
  'x-consumer-group',
  'x-source-topic',
  'x-source-partition',
  'x-source-offset',
  'x-replayed-from-dlt-offset',
]);

export interface DltRecord {
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface Selection {
  fromOffset?: bigint;
  limit?: number;
  group?: string;
}

class UsageError extends Error {}

// kafkajs logs some retriable answers at ERROR before retrying them (a fresh group's coordinator); drop those.
const EXPECTED = /coordinator is not available|not the correct coordinator|rebalancing/i;
const quietLog: logCreator = () => ({ namespace, log }) => {
  const text = `${log.message} ${String(log.error ?? '')}`;
  if (!EXPECTED.test(text)) process.stderr.write(`[kafkajs] ${namespace}: ${text}\n`);
};

export function createKafka(): Kafka {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return new Kafka({
    clientId: `chat-dlt-tool-${randomUUID().slice(0, 8)}`,
    brokers,
    logLevel: logLevel.ERROR,
    logCreator: quietLog,
    connectionTimeout: 3000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

function headerText(v: IHeaders[string]): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x))).join(',');
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/**
 * Reads the DLT from `fromOffset` up to the end it had when called (a throwaway consumer group that commits
 * nothing, deleted afterwards). Records in (partition, offset) order.
 */
export async function readDlt(kafka: Kafka, sel: Selection = {}, timeoutMs = 60_000): Promise<DltRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `chat-dlt-tool-${randomUUID()}`;
  try {
    const ranges = new Map<number, { start: bigint; end: bigint }>();
    for (const p of await admin.fetchTopicOffsets(DLT_TOPIC)) {
      const low = BigInt(p.low);
      const end = BigInt(p.high);
      const start = sel.fromOffset !== undefined && sel.fromOffset > low ? sel.fromOffset : low;
      if (start < end) ranges.set(p.partition, { start, end });
    }
    if (ranges.size === 0) return [];

    const out = new Map<number, DltRecord[]>([...ranges.keys()].map((p) => [p, []]));
    const pending = new Set(ranges.keys());
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10_000, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: DLT_TOPIC, fromBeginning: true });
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      // With --limit and no --group every partition can stop after `limit` records; with --group we read on.
      const perPartitionCap = sel.limit !== undefined && sel.group === undefined ? sel.limit : Infinity;
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const range = ranges.get(batch.partition);
          if (!range || !pending.has(batch.partition)) return;
          const list = out.get(batch.partition)!;
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset < range.start || offset >= range.end) continue;
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = headerText(v);
            list.push({
              partition: batch.partition,
              offset: m.offset,
              timestamp: new Date(Number(m.timestamp)).toISOString(),
              key: m.key,
              value: m.value,
              headers,
            });
          }
          if (BigInt(batch.lastOffset()) >= range.end - 1n || list.length >= perPartitionCap) {
            pending.delete(batch.partition);
            if (pending.size === 0) finish();
          }
        },
      });
      for (const [partition, { start }] of ranges) consumer.seek({ topic: DLT_TOPIC, partition, offset: start.toString() });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`reading ${DLT_TOPIC} did not finish within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect().catch(() => {});
    }
    let records = [...out.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([, list]) => list.sort((x, y) => (BigInt(x.offset) < BigInt(y.offset) ? -1 : 1)));
    if (sel.group !== undefined) records = records.filter((r) => r.headers['x-consumer-group'] === sel.group);
    if (sel.limit !== undefined) records = records.slice(0, sel.limit);
    return records;
  } finally {
    // The throwaway group committed nothing; remove it so it does not linger in the group list.
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

function preview(b: Buffer | null, max: number): string {
  if (b === null) return 'null';
  const s = b.toString('utf8');
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

function source(r: DltRecord): string {
  const h = r.headers;
  return `${h['x-source-topic'] ?? '?'}[${h['x-source-partition'] ?? '?'}]@${h['x-source-offset'] ?? '?'}`;
}

export function formatRecord(r: DltRecord): string {
  const h = r.headers;
  const replayed = h['x-replayed-from-dlt-offset'] !== undefined ? ` replayed-from=dlt@${h['x-replayed-from-dlt-offset']}` : '';
  return (
    `dlt[${r.partition}]@${r.offset} ${r.timestamp} source=${source(r)} group=${h['x-consumer-group'] ?? '?'} ` +
    `attempts=${h['x-attempts'] ?? '?'}${replayed} key=${preview(r.key, 40)} error=${JSON.stringify((h['x-error'] ?? '').slice(0, 200))} ` +
    `value=${preview(r.value, 80)}`
  );
}

export function recordJson(r: DltRecord): Record<string, unknown> {
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    sourceTopic: r.headers['x-source-topic'] ?? null,
    sourcePartition: r.headers['x-source-partition'] === undefined ? null : Number(r.headers['x-source-partition']),
    sourceOffset: r.headers['x-source-offset'] ?? null,
    group: r.headers['x-consumer-group'] ?? null,
    attempts: r.headers['x-attempts'] === undefined ? null : Number(r.headers['x-attempts']),
    error: r.headers['x-error'] ?? null,
    key: r.key?.toString('utf8') ?? null,
    value: r.value?.toString('utf8') ?? null,
    headers: r.headers,
  };
}

export interface Replayed {
  dltPartition: number;
  dltOffset: string;
  topic: string;
  partition: number;
  offset: string;
}

export interface ReplayResult {
  replayed: Replayed[];
  /** Further DLT copies of a source record already replayed in this run (one per failing consumer group). */
  sameSource: Array<{ dltOffset: string; source: string }>;
  /** Records without usable source coordinates. */
  skipped: Array<{ dltOffset: string; reason: string }>;
}

/** Re-publishes the records to their source topic/partition, in DLT order, one copy per source record. */
export async function replay(kafka: Kafka, records: readonly DltRecord[], dryRun = false): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], sameSource: [], skipped: [] };
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await admin.connect();
  if (!dryRun) await producer.connect();
  try {
    const partitionsOf = new Map<string, number>();
    const seen = new Set<string>();
    for (const r of records) {
      const topic = r.headers['x-source-topic'];
      const partitionText = r.headers['x-source-partition'];
      if (!topic || partitionText === undefined || !/^\d+$/.test(partitionText)) {
        result.skipped.push({ dltOffset: r.offset, reason: 'no x-source-topic / x-source-partition header' });
        continue;
      }
      const partition = Number(partitionText);
      if (!partitionsOf.has(topic)) {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => null);
        partitionsOf.set(topic, meta?.topics[0]?.partitions.length ?? 0);
      }
      if (partition >= partitionsOf.get(topic)!) {
        result.skipped.push({ dltOffset: r.offset, reason: `${topic} has no partition ${partition}` });
        continue;
      }
      const src = source(r);
      if (seen.has(src)) {
        result.sameSource.push({ dltOffset: r.offset, source: src });
        continue;
      }
      seen.add(src);
      // The room's partition is explicit (roomId mod partitions in the producer), so replay to the same
      // partition rather than letting a key hash choose another one.
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) if (!DLT_HEADERS.has(k)) headers[k] = v;
      headers['x-replayed-from-dlt-offset'] = r.offset;
      if (dryRun) {
        result.replayed.push({ dltPartition: r.partition, dltOffset: r.offset, topic, partition, offset: '(dry run)' });
        continue;
      }
      const [meta] = await producer.send({
        topic,
        acks: -1,
        messages: [{ key: r.key, value: r.value, partition, headers }],
      });
      result.replayed.push({ dltPartition: r.partition, dltOffset: r.offset, topic, partition, offset: meta?.baseOffset ?? '?' });
    }
    return result;
  } finally {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
  }
}

interface Args {
  command: 'list' | 'replay';
  sel: Selection;
  json: boolean;
  dryRun: boolean;
}

export function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command !== 'list' && command !== 'replay') throw new UsageError(`unknown command ${command ?? '(none)'}`);
  const args: Args = { command, sel: {}, json: false, dryRun: false };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = () => {
      const v = inline ?? rest[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--limit': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError('--limit must be a positive integer');
        args.sel.limit = Number(v);
        break;
      }
      case '--from-offset': {
        const v = value();
        if (!/^\d{1,19}$/.test(v)) throw new UsageError('--from-offset must be a non-negative integer');
        args.sel.fromOffset = BigInt(v);
        break;
      }
      case '--group':
        args.sel.group = value();
        break;
      case '--json':
        args.json = true;
        break;
      case '--dry-run':
        if (command !== 'replay') throw new UsageError('--dry-run is for replay');
        args.dryRun = true;
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  return args;
}

const USAGE = `usage: npx tsx scripts/dlt.ts list   [--limit N] [--from-offset X] [--group G] [--json]
       npx tsx scripts/dlt.ts replay [--limit N] [--from-offset X] [--group G] [--json] [--dry-run]`;

async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const kafka = createKafka();
  const records = await readDlt(kafka, args.sel);
  if (args.command === 'list') {
    for (const r of records) process.stdout.write(`${args.json ? JSON.stringify(recordJson(r)) : formatRecord(r)}\n`);
    process.stderr.write(`${records.length} record(s) in ${DLT_TOPIC}\n`);
    return 0;
  }
  const res = await replay(kafka, records, args.dryRun);
  for (const r of res.replayed) {
    process.stdout.write(
      args.json ? `${JSON.stringify(r)}\n` : `replayed dlt[${r.dltPartition}]@${r.dltOffset} -> ${r.topic}[${r.partition}]@${r.offset}\n`,
    );
  }
  for (const s of res.sameSource) process.stderr.write(`dlt@${s.dltOffset}: ${s.source} already replayed in this run (another group's copy)\n`);
  for (const s of res.skipped) process.stderr.write(`dlt@${s.dltOffset}: skipped: ${s.reason}\n`);
  process.stderr.write(
    `${args.dryRun ? 'would replay' : 'replayed'} ${res.replayed.length} of ${records.length} selected record(s)` +
      ` (${res.sameSource.length} further copies of the same source record, ${res.skipped.length} skipped)\n`,
  );
  return res.skipped.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`dlt: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
