// The dead-letter port on the embedded message log: its dead-letter topic is a local topic like the others, read
// back from the partition files and written through the log's single writer (durable when the append resolves).
import { DLT_HEADERS, type DeadLetterRecord, type DeadLetterTopic, type OutgoingRecord } from '../log/dead-letter.js';
import type { LocalMessageLog } from './local-log.js';
import { TOPICS } from '../log/message-log.js';

export class LocalDeadLetters implements DeadLetterTopic {
  constructor(
    private readonly log: LocalMessageLog,
    readonly topic: string = TOPICS.deadLetter,
  ) {}

  async bounds(): Promise<Array<{ partition: number; low: bigint; high: bigint }>> {
    // The local log keeps everything (no retention): every partition starts at 0.
    return this.log.endOffsets(this.topic).map((high, partition) => ({ partition, low: 0n, high }));
  }

  async read(partition: number, from: bigint, until: bigint, limit: number): Promise<DeadLetterRecord[]> {
    const file = this.log.topic(this.topic).partitions[partition];
    if (!file) throw new Error(`${this.topic} has no partition ${partition}`);
    const out: DeadLetterRecord[] = [];
    let cursor = null;
    while (from < until && out.length < limit) {
      const batch = await file.read(from, cursor, Math.min(500, limit - out.length), 4 * 1024 * 1024);
      if (batch.records.length === 0) break;
      cursor = batch.next;
      for (const r of batch.records) {
        if (r.offset >= until) return out;
        out.push({ partition, offset: r.offset.toString(), timestamp: r.headers[DLT_HEADERS.at] ?? null, key: r.key, value: r.value, headers: r.headers });
      }
      from = batch.records[batch.records.length - 1]!.offset + 1n;
    }
    return out;
  }

  async partitionCount(topic: string): Promise<number> {
    try {
      return this.log.topic(topic).partitions.length;
    } catch {
      return 0;
    }
  }

  async append(topic: string, partition: number, record: OutgoingRecord): Promise<string> {
    return (await this.log.appendTo(topic, partition, record)).toString();
  }

  async close(): Promise<void> {
    // The log belongs to the infrastructure, which closes it.
  }
}
