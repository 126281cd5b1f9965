// The webhook outbox (src/notifications/outbox.ts) in PostgreSQL or PGlite: deliveries formed, claimed and
// settled with row locks (FOR UPDATE SKIP LOCKED) and leases, so any number of workers share the table safely.
import { sql, type Kysely, type UpdateObject } from 'kysely';
import type { ClaimedDelivery, DeliveryFailure, FailedDelivery, WebhookOutbox } from '../notifications/outbox.js';
import type { MessageView } from '../shared/model.js';
import { iso } from './kysely-rows.js';
import type { Database } from './schema.js';

const ms = (n: number) => sql`(${n}::bigint * interval '1 millisecond')`;

interface ClaimRow {
  delivery_id: string;
  lease_token: string;
  user_id: string;
  delivery_room_id: string;
  attempts: number;
  member: boolean;
  has_row: boolean;
  id: string | null;
  room_id: string;
  seq: string;
  sender_id: string;
  type: MessageView['type'];
  content: string;
  created_at: Date | string;
  unread: string;
}

export class KyselyWebhookOutbox implements WebhookOutbox {
  constructor(private readonly db: Kysely<Database>) {}

  async formWebhookDeliveries(scope: string, windowMs: number, maxMessages: number, maxGroups: number) {
    // Rows locked with SKIP LOCKED: two workers forming at once never put a row in two deliveries (at worst one
    // member's rows of a window go out as two POSTs). A row assigned meanwhile is re-checked and skipped.
    const { rows } = await sql<{ n: string }>`
      WITH groups AS MATERIALIZED (
        SELECT user_id, room_id FROM webhook_outbox
        WHERE scope = ${scope} AND delivery_id IS NULL
        GROUP BY user_id, room_id
        HAVING min(created_at) <= now() - ${ms(windowMs)}
        ORDER BY min(created_at)
        LIMIT ${maxGroups}
      ), locked AS MATERIALIZED (
        SELECT o.id, o.user_id, o.room_id, o.seq FROM webhook_outbox o
        JOIN groups g ON g.user_id = o.user_id AND g.room_id = o.room_id
        WHERE o.scope = ${scope} AND o.delivery_id IS NULL
        FOR UPDATE OF o SKIP LOCKED
      ), chunked AS MATERIALIZED (
        SELECT id, user_id, room_id, (row_number() OVER (PARTITION BY user_id, room_id ORDER BY seq) - 1) / ${maxMessages}::int AS chunk
        FROM locked
      ), formed AS MATERIALIZED (
        SELECT user_id, room_id, chunk, gen_random_uuid() AS id, count(*)::int AS n FROM chunked GROUP BY user_id, room_id, chunk
      ), ins AS (
        INSERT INTO webhook_deliveries (id, scope, user_id, room_id, message_count)
        SELECT id, ${scope}, user_id, room_id, n FROM formed
      ), assigned AS (
        UPDATE webhook_outbox o SET delivery_id = f.id
        FROM chunked c JOIN formed f ON f.user_id = c.user_id AND f.room_id = c.room_id AND f.chunk = c.chunk
        WHERE o.id = c.id
      )
      SELECT count(*) AS n FROM formed`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  async claimWebhookDeliveries(scope: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    // One round trip: lease the due deliveries, and read their messages as stored (unread counts from the stored
    // read positions) and whether the member is still in the room.
    const { rows } = await sql<ClaimRow>`
      WITH due AS (
        SELECT id FROM webhook_deliveries
        WHERE scope = ${scope} AND state = 'pending' AND next_at <= now()
        ORDER BY next_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE webhook_deliveries d
        SET lease_token = gen_random_uuid(), next_at = now() + ${ms(leaseMs)}, attempts = d.attempts + 1
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.lease_token, d.user_id, d.room_id, d.attempts
      )
      SELECT c.id AS delivery_id, c.lease_token, c.user_id, c.room_id AS delivery_room_id, c.attempts,
             EXISTS (SELECT 1 FROM chat_room_members cm WHERE cm.room_id = c.room_id AND cm.user_id = c.user_id) AS member,
             o.id IS NOT NULL AS has_row, m.id, m.room_id, m.seq, m.sender_id, m.type, m.content, m.created_at,
             (SELECT count(*) FROM chat_room_members cm
              WHERE cm.room_id = m.room_id AND cm.user_id <> m.sender_id AND cm.last_read_seq < m.seq) AS unread
      FROM claimed c
      LEFT JOIN webhook_outbox o ON o.delivery_id = c.id
      LEFT JOIN messages m ON m.id = o.message_id
      ORDER BY c.id, o.seq`.execute(this.db);
    const out = new Map<string, ClaimedDelivery>();
    for (const r of rows) {
      let d = out.get(r.delivery_id);
      if (!d) {
        d = {
          id: r.delivery_id,
          leaseToken: r.lease_token,
          userId: r.user_id,
          roomId: r.delivery_room_id,
          attempts: r.attempts,
          member: r.member,
          messages: [],
          unstored: 0,
        };
        out.set(d.id, d);
      }
      if (!r.has_row) continue;
      if (r.id === null) d.unstored++;
      else
        d.messages.push({
          id: r.id,
          roomId: r.room_id,
          seq: r.seq,
          senderId: r.sender_id,
          type: r.type,
          content: r.content,
          createdAt: iso(r.created_at)!,
          unreadCount: Number(r.unread),
        });
    }
    return [...out.values()];
  }

  async completeWebhookDeliveries(settled: ReadonlyArray<{ id: string; leaseToken: string; outcome: 'delivered' | 'dropped' }>) {
    if (settled.length === 0) return [];
    const { rows } = await sql<{ id: string }>`
      UPDATE webhook_deliveries d
      SET state = v.outcome, lease_token = NULL, settled_at = now()
      FROM unnest(${settled.map((x) => x.id)}::uuid[], ${settled.map((x) => x.leaseToken)}::uuid[], ${settled.map((x) => x.outcome)}::text[])
           AS v(id, token, outcome)
      WHERE d.id = v.id AND d.lease_token = v.token AND d.state = 'pending'
      RETURNING d.id`.execute(this.db);
    return rows.map((r) => r.id);
  }

  async pruneWebhookDeliveries(scope: string, olderThanMs: number, limit: number) {
    const { rows } = await sql<{ n: string }>`
      WITH gone AS (
        DELETE FROM webhook_deliveries WHERE id IN (
          SELECT id FROM webhook_deliveries
          WHERE scope = ${scope} AND settled_at IS NOT NULL AND settled_at < now() - ${ms(olderThanMs)}
          LIMIT ${limit})
        RETURNING 1)
      SELECT count(*) AS n FROM gone`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  async failWebhookDelivery(id: string, leaseToken: string, f: DeliveryFailure) {
    const { rows } = await sql<{ state: 'pending' | 'failed' }>`
      UPDATE webhook_deliveries d
      SET lease_token = NULL, last_status = ${f.status}::int, last_error = ${f.error.slice(0, 500)},
          state = CASE WHEN g.give_up THEN 'failed' ELSE 'pending' END,
          failed_at = CASE WHEN g.give_up THEN now() END,
          next_at = now() + ${ms(f.retryInMs ?? 0)}
      FROM (SELECT id, (${f.retryInMs}::bigint IS NULL
                        OR now() + ${ms(f.retryInMs ?? 0)} > started_at + ${ms(f.giveUpMs)}) AS give_up
            FROM webhook_deliveries WHERE id = ${id}) g
      WHERE d.id = g.id AND d.lease_token = ${leaseToken} AND d.state = 'pending'
      RETURNING d.state`.execute(this.db);
    return rows[0]?.state ?? null;
  }

  async listFailedWebhookDeliveries(scope: string, page: { limit: number; before?: string | null }) {
    const [us, id] = page.before ? page.before.split(':') : [null, null];
    const { rows } = await sql<{
      id: string;
      user_id: string;
      room_id: string;
      message_count: number;
      attempts: number;
      created_at: Date | string;
      failed_at: Date | string;
      failed_us: string;
      last_status: number | null;
      last_error: string | null;
    }>`
      SELECT id, user_id, room_id, message_count, attempts, created_at, failed_at, last_status, last_error,
             (extract(epoch FROM failed_at) * 1000000)::bigint AS failed_us
      FROM webhook_deliveries
      WHERE scope = ${scope} AND state = 'failed'
        AND (${us}::bigint IS NULL OR ((extract(epoch FROM failed_at) * 1000000)::bigint, id) < (${us}::bigint, ${id}::uuid))
      ORDER BY failed_at DESC, id DESC
      LIMIT ${page.limit + 1}`.execute(this.db);
    const more = rows.length > page.limit;
    const list = rows.slice(0, page.limit);
    const deliveries: FailedDelivery[] = list.map((r) => ({
      id: r.id,
      userId: r.user_id,
      roomId: r.room_id,
      count: r.message_count,
      attempts: r.attempts,
      createdAt: iso(r.created_at)!,
      failedAt: iso(r.failed_at)!,
      lastStatus: r.last_status,
      lastError: r.last_error,
    }));
    const last = list[list.length - 1];
    return { deliveries, nextCursor: more && last ? `${last.failed_us}:${last.id}` : null };
  }

  async countFailedWebhookDeliveries(scope: string) {
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('scope', '=', scope)
      .where('state', '=', 'failed')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  retryWebhookDeliveries(scope: string, ids: readonly string[]) {
    return this.updateFailed(scope, ids, { state: 'pending', attempts: 0, started_at: sql`now()`, next_at: sql`now()`, failed_at: null, lease_token: null });
  }

  discardWebhookDeliveries(scope: string, ids: readonly string[]) {
    return this.updateFailed(scope, ids, { state: 'discarded', settled_at: sql`now()` });
  }

  /** Applies `set` to those of `ids` that are failed deliveries of the scope; returns their ids. */
  private async updateFailed(scope: string, ids: readonly string[], set: UpdateObject<Database, 'webhook_deliveries'>): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .updateTable('webhook_deliveries')
      .set(set)
      .where('scope', '=', scope)
      .where('state', '=', 'failed')
      .where('id', 'in', [...ids])
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }
}
