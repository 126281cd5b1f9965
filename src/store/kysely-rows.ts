// Row -> domain mapping for the Kysely store: bigints stay strings, times leave as ISO-8601 strings.
import type { ChatMessage, Room } from '../shared/model.js';
import type { MessageRow, RoomRow, UserRow } from './schema.js';
import type { UserWithSecret } from './store.js';

export function iso(d: Date | string | null): string | null {
  if (d === null) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

export function toUser(r: UserRow): UserWithSecret {
  return {
    id: r.id,
    email: r.email,
    nickname: r.nickname,
    status: r.status,
    lastSeenAt: iso(r.last_seen_at),
    passwordHash: r.password_hash,
    deletedAt: iso(r.deleted_at),
  };
}

export function toRoom(r: Pick<RoomRow, 'id' | 'name' | 'type' | 'visibility' | 'created_by' | 'created_at'>): Room {
  return { id: r.id, name: r.name, type: r.type, visibility: r.visibility, createdBy: r.created_by, createdAt: iso(r.created_at)! };
}

export function toMessage(r: MessageRow): ChatMessage {
  return {
    id: r.id,
    roomId: r.room_id,
    seq: r.seq,
    senderId: r.sender_id,
    type: r.type,
    content: r.content,
    idempotencyKey: r.idempotency_key,
    createdAt: iso(r.created_at)!,
    partition: r.kafka_partition,
    offset: r.kafka_offset,
  };
}
