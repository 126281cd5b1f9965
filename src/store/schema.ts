// The Kysely `Database` type: mirrors migrations/. Table types never leave store/.
import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** bigint columns: pg returns int8 as string; we keep them as strings end to end (bigint-safe JSON). */
type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
type GeneratedInt8 = ColumnType<string, string | number | bigint | undefined, string | number | bigint>;

export interface UsersTable {
  id: GeneratedInt8;
  email: string;
  password_hash: string;
  nickname: string;
  status: Generated<'ONLINE' | 'OFFLINE'>;
  last_seen_at: Date | null;
  deleted_at: Date | null;
  created_at: Timestamp;
}

export interface ChatRoomsTable {
  id: GeneratedInt8;
  name: string;
  type: 'DIRECT' | 'GROUP';
  created_by: Int8;
  direct_key: string | null;
  visibility: Generated<'private' | 'public'>;
  created_at: Timestamp;
}

export interface RoomInvitationsTable {
  room_id: Int8;
  user_id: Int8;
  invited_by: Int8;
  created_at: Timestamp;
}

export interface UserBlocksTable {
  blocker_id: Int8;
  blocked_id: Int8;
  created_at: Timestamp;
}

export interface ChatRoomMembersTable {
  id: GeneratedInt8;
  room_id: Int8;
  user_id: Int8;
  last_read_message_id: string | null;
  last_read_seq: ColumnType<string, string | number | bigint | undefined, string | number | bigint>;
  unread_count: Generated<number>;
  joined_at: Timestamp;
}

export interface MessagesTable {
  id: string;
  room_id: Int8;
  seq: Int8;
  sender_id: Int8;
  content: string;
  type: 'TEXT' | 'IMAGE' | 'SYSTEM';
  idempotency_key: string | null;
  kafka_partition: number;
  kafka_offset: Int8;
  created_at: Timestamp;
}

export interface NotificationsTable {
  id: GeneratedInt8;
  user_id: Int8;
  room_id: Int8;
  message_id: string;
  seq: Int8;
  sender_id: Int8;
  preview: string;
  created_at: Timestamp;
}

export interface DeadLetterMarksTable {
  topic: string;
  partition: number;
  dlt_offset: Int8;
  action: 'replayed' | 'discarded';
  actor: string;
  replayed_to: string | null;
  record_digest: string | null;
  marked_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  scope: string;
  user_id: Int8;
  room_id: Int8;
  message_count: number;
  state: Generated<'pending' | 'failed' | 'delivered' | 'dropped' | 'discarded'>;
  attempts: Generated<number>;
  created_at: Timestamp;
  started_at: Timestamp;
  next_at: Timestamp;
  lease_token: string | null;
  last_status: number | null;
  last_error: string | null;
  failed_at: Date | null;
  settled_at: Date | null;
}

export interface WebhookOutboxTable {
  id: GeneratedInt8;
  scope: string;
  user_id: Int8;
  room_id: Int8;
  message_id: string;
  seq: Int8;
  created_at: Timestamp;
  delivery_id: string | null;
}

export interface Database {
  users: UsersTable;
  chat_rooms: ChatRoomsTable;
  chat_room_members: ChatRoomMembersTable;
  messages: MessagesTable;
  notifications: NotificationsTable;
  room_invitations: RoomInvitationsTable;
  dead_letter_marks: DeadLetterMarksTable;
  user_blocks: UserBlocksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_outbox: WebhookOutboxTable;
}

export type UserRow = Selectable<UsersTable>;
export type RoomRow = Selectable<ChatRoomsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type NotificationRow = Selectable<NotificationsTable>;
