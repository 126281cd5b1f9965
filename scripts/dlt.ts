// The dead-letter topic tool: inspect, replay and discard the records of chat.messages.dlt.
//
//   npx tsx scripts/dlt.ts list    [--limit N] [--from-offset X] [--group G] [--all] [--json]
//   npx tsx scripts/dlt.ts replay  [--limit N] [--from-offset X] [--group G] [--all] [--json] [--dry-run] [--actor A]
//   npx tsx scripts/dlt.ts discard [--limit N] [--from-offset X] [--group G] [--json] [--actor A]
//
// list     the dead letters: DLT offset, time, source topic/partition/offset, consumer group, attempts, error and a
//          preview of the value (--json: one JSON object per line, full value and headers).
// replay   re-publishes the selected records to their source topic and partition with their key and original
//          headers plus x-replayed-from-dlt-offset, one copy per source record (a poison record is dead-lettered
//          once per failing group), and marks them replayed. Consumers are idempotent on message id; a record that
//          is still poison is dead-lettered again.
// discard  marks the selected records discarded. The topic is append-only: nothing is deleted, but marked records
//          leave the list and the pending count (here and in the operations console, which shares this code:
//          src/ops/dead-letters.ts).
//
// Selection: records with DLT offset >= --from-offset (default: the earliest retained), at most --limit (default:
// all up to the end of the topic as it was when the command started), optionally only those of one --group; only
// pending ones (neither replayed nor discarded) unless --all. Every replay and discard is logged as a JSON audit
// line on stderr naming the actor (--actor, default cli:<user>@<host>).
// Environment: KAFKA_BROKERS, DLT_TOPIC (default chat.messages.dlt), DATABASE_URL (where the marks are kept), the
// service settings read as the app reads them (defaults in API.md). Exit status: 0 done, 1 failed, 2 bad usage.
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readSetting } from '../src/config.js';
import { Kafka, logLevel, type logCreator } from '../src/kafka/kafkajs.js';
import { pino } from 'pino';
import { DeadLetters, toEntry, type DeadLetterEntry } from '../src/ops/dead-letters.js';
import type { DeadLetterRecord } from '../src/log/dead-letter.js';
import { TOPICS } from '../src/log/message-log.js';
import { KafkaDeadLetters } from '../src/kafka/dead-letters.js';
import type { DeadLetterMark } from '../src/store/dead-letter-marks.js';
import { KyselyDeadLetterMarks } from '../src/store/kysely-dead-letter-marks.js';
import { KyselyStore } from '../src/store/kysely.js';

class UsageError extends Error {}

// kafkajs logs some retriable answers at ERROR before retrying them (a fresh group's coordinator); drop those.
const EXPECTED = /coordinator is not available|not the correct coordinator|rebalancing/i;
const quietLog: logCreator =
  () =>
  ({ namespace, log }) => {
    const text = `${log.message} ${String(log.error ?? '')}`;
    if (!EXPECTED.test(text)) process.stderr.write(`[kafkajs] ${namespace}: ${text}\n`);
  };

export function createKafka(): Kafka {
  const brokers = readSetting('KAFKA_BROKERS');
  return new Kafka({
    clientId: `chat-dlt-tool-${randomUUID().slice(0, 8)}`,
    brokers,
    logLevel: logLevel.ERROR,
    logCreator: quietLog,
    connectionTimeout: 3000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

const quoted = (s: string | null, max: number) => (s === null ? 'null' : JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s));

export function formatRecord(e: DeadLetterEntry): string {
  const replayed = e.replayedFrom !== null ? ` replayed-from=dlt@${e.replayedFrom}` : '';
  const handled = e.handled ? ` handled=${e.handled.action} by ${JSON.stringify(e.handled.actor)} at ${e.handled.at}` : '';
  return (
    `dlt[${e.partition}]@${e.offset} ${e.timestamp ?? '?'} source=${e.sourceTopic ?? '?'}[${e.sourcePartition ?? '?'}]@${e.sourceOffset ?? '?'} ` +
    `group=${e.group ?? '?'} attempts=${e.attempts ?? '?'}${replayed} key=${quoted(e.key, 40)} error=${JSON.stringify((e.error ?? '').slice(0, 200))} ` +
    `value=${quoted(e.preview, 80)}${handled}`
  );
}

interface Args {
  command: 'list' | 'replay' | 'discard';
  sel: { fromOffset?: bigint; limit?: number; group?: string; include: 'pending' | 'all' };
  json: boolean;
  dryRun: boolean;
  actor: string;
}

/** The command line (node:util parseArgs): a command, then options; anything unknown or misplaced is a UsageError. */
export function parseCommandLine(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command !== 'list' && command !== 'replay' && command !== 'discard') throw new UsageError(`unknown command ${command ?? '(none)'}`);
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        limit: { type: 'string' },
        'from-offset': { type: 'string' },
        group: { type: 'string' },
        actor: { type: 'string' },
        all: { type: 'boolean' },
        json: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const args: Args = {
    command,
    sel: { include: 'pending' },
    json: values.json ?? false,
    dryRun: false,
    actor: values.actor ?? `cli:${userInfo().username}@${hostname()}`,
  };
  if (values.limit !== undefined) {
    if (!/^\d+$/.test(values.limit) || Number(values.limit) < 1) throw new UsageError('--limit must be a positive integer');
    args.sel.limit = Number(values.limit);
  }
  if (values['from-offset'] !== undefined) {
    if (!/^\d{1,19}$/.test(values['from-offset'])) throw new UsageError('--from-offset must be a non-negative integer');
    args.sel.fromOffset = BigInt(values['from-offset']);
  }
  if (values.group !== undefined) args.sel.group = values.group;
  if (values.all) {
    if (command === 'discard') throw new UsageError('--all is for list and replay');
    args.sel.include = 'all';
  }
  if (values['dry-run']) {
    if (command !== 'replay') throw new UsageError('--dry-run is for replay');
    args.dryRun = true;
  }
  return args;
}

const USAGE = `usage: npx tsx scripts/dlt.ts list    [--limit N] [--from-offset X] [--group G] [--all] [--json]
       npx tsx scripts/dlt.ts replay  [--limit N] [--from-offset X] [--group G] [--all] [--json] [--dry-run] [--actor A]
       npx tsx scripts/dlt.ts discard [--limit N] [--from-offset X] [--group G] [--json] [--actor A]`;

async function execute(args: Args, dlt: DeadLetters): Promise<number> {
  const selected = await dlt.select(args.sel);
  const records: DeadLetterRecord[] = selected.map((s) => s.record);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (args.command === 'list') {
    for (const { record, mark } of selected) {
      const entry = toEntry(record, mark as DeadLetterMark | undefined, args.json);
      out(args.json ? JSON.stringify(entry) : formatRecord(entry));
    }
    process.stderr.write(`${records.length} record(s) in ${dlt.topicName}\n`);
    return 0;
  }
  if (args.command === 'discard') {
    const done = await dlt.discard(records, args.actor);
    for (const r of done)
      out(args.json ? JSON.stringify({ dltPartition: r.partition, dltOffset: r.offset, discarded: true }) : `discarded dlt[${r.partition}]@${r.offset}`);
    process.stderr.write(`discarded ${done.length} record(s)\n`);
    return 0;
  }
  const res = await dlt.replay(records, args.actor, args.dryRun);
  for (const r of res.replayed) {
    const line = { dltPartition: r.partition, dltOffset: r.offset, topic: r.topic, partition: r.toPartition, offset: r.toOffset };
    out(args.json ? JSON.stringify(line) : `replayed dlt[${r.partition}]@${r.offset} -> ${r.topic}[${r.toPartition}]@${r.toOffset}`);
  }
  for (const s of res.sameSource) process.stderr.write(`dlt@${s.offset}: ${s.source} already replayed in this run (another group's copy)\n`);
  for (const s of res.skipped) process.stderr.write(`dlt@${s.offset}: skipped: ${s.reason}\n`);
  process.stderr.write(
    `${args.dryRun ? 'would replay' : 'replayed'} ${res.replayed.length} of ${records.length} selected record(s)` +
      ` (${res.sameSource.length} further copies of the same source record, ${res.skipped.length} skipped)\n`,
  );
  return res.skipped.length > 0 ? 1 : 0;
}

async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const topic = new KafkaDeadLetters({ kafka: createKafka(), topic: process.env.DLT_TOPIC || TOPICS.deadLetter, readerGroupPrefix: 'chat-dlt-tool' });
  const store = new KyselyStore({ connectionString: readSetting('DATABASE_URL'), max: 2 });
  // Audit lines (JSON) on stderr, apart from the listing on stdout.
  const audit = pino({ base: { tool: 'dlt' } }, pino.destination({ dest: 2, sync: true }));
  try {
    return await execute(args, new DeadLetters(topic, new KyselyDeadLetterMarks(store.db), audit));
  } finally {
    await Promise.allSettled([topic.close(), store.close()]);
  }
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
