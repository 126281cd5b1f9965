// Dead-letter marks in PostgreSQL (or PGlite): the dead_letter_marks table of migrations/003.
import { sql, type Kysely } from 'kysely';
import type { DeadLetterMark, DeadLetterMarks } from './dead-letter-marks.js';
import { iso } from './kysely-rows.js';
import type { Database } from './schema.js';

export class KyselyDeadLetterMarks implements DeadLetterMarks {
  constructor(private readonly db: Kysely<Database>) {}

  async mark(marks: ReadonlyArray<Omit<DeadLetterMark, 'at'>>): Promise<void> {
    if (marks.length === 0) return;
    await this.db
      .insertInto('dead_letter_marks')
      .values(
        marks.map((m) => ({
          topic: m.topic,
          partition: m.partition,
          dlt_offset: m.offset,
          action: m.action,
          actor: m.actor,
          replayed_to: m.replayedTo,
          record_digest: m.digest,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['topic', 'partition', 'dlt_offset']).doUpdateSet({
          action: sql`excluded.action`,
          actor: sql`excluded.actor`,
          replayed_to: sql`excluded.replayed_to`,
          record_digest: sql`excluded.record_digest`,
          marked_at: sql`now()`,
        }),
      )
      .execute();
  }

  async marksOf(topic: string, partition: number, offsets: readonly string[]): Promise<Map<string, DeadLetterMark>> {
    if (offsets.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('dead_letter_marks')
      .selectAll()
      .where('topic', '=', topic)
      .where('partition', '=', partition)
      .where('dlt_offset', 'in', [...offsets])
      .execute();
    return new Map(
      rows.map((r) => [
        r.dlt_offset,
        {
          topic: r.topic,
          partition: r.partition,
          offset: r.dlt_offset,
          action: r.action,
          actor: r.actor,
          digest: r.record_digest,
          replayedTo: r.replayed_to,
          at: iso(r.marked_at)!,
        },
      ]),
    );
  }

  async countMarked(topic: string, partition: number, from: bigint, until: bigint): Promise<number> {
    const row = await this.db
      .selectFrom('dead_letter_marks')
      .select(sql<string>`count(*)`.as('n'))
      .where('topic', '=', topic)
      .where('partition', '=', partition)
      .where('dlt_offset', '>=', from.toString())
      .where('dlt_offset', '<', until.toString())
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async forget(topic: string, partition: number, offsets: readonly string[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.db
      .deleteFrom('dead_letter_marks')
      .where('topic', '=', topic)
      .where('partition', '=', partition)
      .where('dlt_offset', 'in', [...offsets])
      .execute();
  }

  async forgetIfRecreated(topic: string, partition: number, end: bigint, before: Date): Promise<number> {
    // One statement: nothing is deleted unless a mark past the end exists.
    const gone = await this.db
      .deleteFrom('dead_letter_marks')
      .where('topic', '=', topic)
      .where('partition', '=', partition)
      .where('marked_at', '<', before)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('dead_letter_marks as beyond')
            .select('beyond.dlt_offset')
            .where('beyond.topic', '=', topic)
            .where('beyond.partition', '=', partition)
            .where('beyond.dlt_offset', '>=', end.toString())
            .where('beyond.marked_at', '<', before),
        ),
      )
      .executeTakeFirst();
    return Number(gone.numDeletedRows);
  }
}
