// What every consumer group does with a batch, whatever the log underneath: run the handler; retry outages
// without end; isolate a poison record by bisection; dead-letter it after a few attempts; give the batch up
// when the partition is no longer ours. Kept apart from kafkajs so it is unit-tested with plain functions.
import { isTransientError } from '../shared/failures.js';
import { DLT_HEADERS } from './dead-letter.js';
import type { BatchHandler, ConsumedRecord } from './message-log.js';

export interface RunnerOptions {
  groupId: string;
  handler: BatchHandler;
  /** Attempts for a non-transient failure of a single record before it is dead-lettered. */
  maxAttempts?: number;
  backoffMs?: number;
  /** Publishes a dead letter; when absent, a poison record's failure is thrown (the partition stalls). */
  deadLetter?(record: ConsumedRecord, headers: Record<string, string>): Promise<void>;
  onDeadLettered?(record: ConsumedRecord, err: unknown): void;
  onTransientFailure?(err: unknown, attempt: number): void;
  isTransient?(err: unknown): boolean;
  sleep?(ms: number): Promise<void>;
}

export interface BatchControl {
  /** Keeps the group membership alive during long work (Kafka heartbeat). */
  beat(): Promise<void>;
  /** false once the batch is no longer ours (stopping, rebalanced). */
  alive(): boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Errors that say the record itself is bad (PoisonRecordError and its kin), not that something is down. */
export function isPoison(err: unknown): boolean {
  return (err as { name?: unknown })?.name === 'PoisonRecordError';
}

/**
 * Runs the handler over records in order. Transient failures are retried without end; on any other failure the
 * records are split in halves and retried (a poison record is isolated in O(log n) handler calls); a single
 * record that fails `maxAttempts` times is dead-lettered and the rest goes on. Resolves true when every record is
 * handled or dead-lettered, false when the batch was abandoned (not alive any more): commit only after true.
 */
export async function runBatch(records: readonly ConsumedRecord[], opts: RunnerOptions, ctl: BatchControl): Promise<boolean> {
  const maxAttempts = opts.maxAttempts ?? 3;
  const backoff = opts.backoffMs ?? 200;
  const sleep = opts.sleep ?? defaultSleep;
  const transient = opts.isTransient ?? isTransientError;
  let lastErr: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      await opts.handler(records);
      await ctl.beat();
      return true;
    } catch (err) {
      lastErr = err;
      if (!ctl.alive()) return false;
      if (transient(err)) {
        opts.onTransientFailure?.(err, attempt);
        await sleep(Math.min(5000, backoff * 2 ** Math.min(attempt, 5)));
        await ctl.beat();
        if (!ctl.alive()) return false;
        attempt = 0;
        continue;
      }
      if (records.length > 1 || attempt >= maxAttempts) break;
      // A poison record (it cannot decode, its room does not exist) fails the same way every time: its attempts
      // are counted, but not waited for.
      if (!isPoison(err)) await sleep(backoff * 2 ** (attempt - 1));
      await ctl.beat();
      if (!ctl.alive()) return false;
    }
  }
  if (records.length > 1) {
    const mid = Math.ceil(records.length / 2);
    return (await runBatch(records.slice(0, mid), opts, ctl)) && (await runBatch(records.slice(mid), opts, ctl));
  }
  const record = records[0]!;
  if (!opts.deadLetter) throw lastErr;
  await opts.deadLetter(record, {
    ...record.headers,
    [DLT_HEADERS.error]: String((lastErr as Error)?.message ?? lastErr).slice(0, 500),
    [DLT_HEADERS.attempts]: String(maxAttempts),
    [DLT_HEADERS.group]: opts.groupId,
    [DLT_HEADERS.sourceTopic]: record.topic,
    [DLT_HEADERS.sourcePartition]: String(record.partition),
    [DLT_HEADERS.sourceOffset]: record.offset,
    [DLT_HEADERS.at]: new Date().toISOString(),
  });
  opts.onDeadLettered?.(record, lastErr);
  await ctl.beat();
  return true;
}
