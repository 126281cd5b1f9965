// The store port: users, rooms, memberships, messages and notifications in durable storage.
import type { WebhookOutbox } from '../notifications/outbox.js';
import type { ChatMessage, MemberView, Room, RoomVisibility, User } from '../shared/model.js';

export interface UserWithSecret extends User {
  passwordHash: string;
  deletedAt: string | null;
}

export interface RoomSummary extends Room {
  members: number;
  lastMessage: ChatMessage | null;
  lastReadSeq: string;
  /** DIRECT rooms: the other member. */
  peer: { userId: string; nickname: string } | null;
}

export interface NotificationInput {
  userId: string;
  roomId: string;
  messageId: string;
  seq: string;
  senderId: string;
  preview: string;
}

export interface Notification extends NotificationInput {
  id: string;
  createdAt: string;
}

export type BlockResult = 'blocked' | 'already' | 'limit';

export interface BlockedUser {
  userId: string;
  nickname: string;
  blockedAt: string;
}

export interface Store extends WebhookOutbox {
  /** Throws AppError('email-taken') when the email (case-insensitive) exists. */
  createUser(input: { email: string; passwordHash: string; nickname: string }): Promise<User>;
  findUserByEmail(email: string): Promise<UserWithSecret | null>;
  /** Deleted users are returned with deletedAt set; callers decide. */
  findUserById(id: string): Promise<UserWithSecret | null>;
  /** Many users in one round trip (deleted ones included, as findUserById); missing ids are absent from the map. */
  findUsersByIds(ids: readonly string[]): Promise<Map<string, UserWithSecret>>;
  existingUserIds(ids: readonly string[]): Promise<string[]>;
  /** Live users whose email equals `query` (case-insensitive) or whose nickname starts with it; at most `limit`. */
  searchUsers(query: string, limit: number): Promise<Array<{ id: string; nickname: string; email: string }>>;
  /** Sets status and last_seen_at; true only when the status actually changed (so one event per change). */
  setUserStatus(userId: string, status: 'ONLINE' | 'OFFLINE', at: Date): Promise<boolean>;
  /** Users whose stored status is ONLINE (the presence sweeper checks them against live sessions). */
  onlineUserIds(limit: number): Promise<string[]>;
  /** Those of `ids` whose stored status is OFFLINE (an instance turns its connected users back ONLINE). */
  offlineUserIds(ids: readonly string[]): Promise<string[]>;

  createGroupRoom(createdBy: string, name: string, memberIds: readonly string[], visibility: RoomVisibility): Promise<Room>;
  /**
   * One DIRECT room per unordered pair, enforced by a unique key: concurrent callers get the same room. An existing
   * room that lost one of the two (a block) gets them back, with the history: `restored` names them.
   */
  findOrCreateDirectRoom(a: string, b: string, name: string): Promise<{ room: Room; created: boolean; restored: string[] }>;
  findDirectRoom(a: string, b: string): Promise<Room | null>;
  getRoom(id: string): Promise<Room | null>;
  isMember(roomId: string, userId: string): Promise<boolean>;
  /** Membership of many (room, user) pairs in one round trip, in input order (the send path checks a batch at once). */
  areMembers(pairs: ReadonlyArray<{ roomId: string; userId: string }>): Promise<boolean[]>;
  /** Idempotent; the inviter must be checked by the caller. */
  invite(roomId: string, userId: string, invitedBy: string): Promise<void>;
  isInvited(roomId: string, userId: string): Promise<boolean>;
  /** Rooms created by the user since `since` (a cap on how fast one account can create rooms and add people). */
  countRoomsCreatedSince(userId: string, since: Date): Promise<number>;
  memberIds(roomIds: readonly string[]): Promise<Map<string, string[]>>;
  listMembers(roomId: string): Promise<MemberView[]>;
  /** Idempotent. Returns true when the user was not a member before; consumes the user's invitation. */
  addMember(roomId: string, userId: string): Promise<boolean>;
  removeMember(roomId: string, userId: string): Promise<boolean>;
  /** The user's rooms by id, at most `limit`, with id > `afterId` when given (room-list pagination). */
  listRoomsForUser(userId: string, page?: { limit: number; afterId?: string | null }): Promise<RoomSummary[]>;
  roomIdsOfUser(userId: string): Promise<string[]>;

  /** Idempotent ('already' when it was); 'limit' when the blocker already blocks `max` users (nothing added). */
  block(blockerId: string, blockedId: string, max: number): Promise<BlockResult>;
  /** Idempotent: true when a block was lifted. */
  unblock(blockerId: string, blockedId: string): Promise<boolean>;
  hasBlocked(blockerId: string, blockedId: string): Promise<boolean>;
  /** Whom the user blocks, newest first, at most `limit`. */
  listBlocked(blockerId: string, limit: number): Promise<BlockedUser[]>;
  /**
   * Of `ids`, the users `adderId` may add to a room: they exist, are not deleted and have not blocked `adderId` —
   * one query, so a refusal takes the same time whichever the reason.
   */
  addableUserIds(adderId: string, ids: readonly string[]): Promise<string[]>;

  /** Batch insert, idempotent on message id (and on (sender, idempotency key)); returns rows inserted. */
  insertMessages(messages: readonly ChatMessage[]): Promise<number>;
  /** Oldest first, seq > afterSeq. */
  messagesAfter(roomId: string, afterSeq: string, limit: number): Promise<ChatMessage[]>;
  /** Newest first, seq < beforeSeq (or the newest when null). */
  messagesBefore(roomId: string, beforeSeq: string | null, limit: number): Promise<ChatMessage[]>;
  findMessageByIdempotencyKey(senderId: string, key: string): Promise<ChatMessage | null>;
  maxSeq(roomId: string): Promise<string>;
  /** The stored seq of each of these message ids that is stored. */
  storedSeqs(ids: readonly string[]): Promise<Map<string, string>>;

  /** Per item: messages of the room with seq > afterSeq not sent by the user (stored messages only). */
  countUnread(items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string }>): Promise<number[]>;
  /** Like countUnread, counting only messages with seq < beforeSeq. */
  countUnreadBefore(items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string; beforeSeq: string }>): Promise<number[]>;
  /** Moves a read position forward only; returns the position after the update. */
  advanceReadSeq(roomId: string, userId: string, seq: string, unreadCount: number | null): Promise<string>;

  /**
   * Idempotent on (user, message); returns rows inserted. With a `webhookScope`, each row inserted (not one that
   * was there) also gets its webhook outbox row, in the same statement (src/notifications/outbox.ts).
   */
  insertNotifications(rows: readonly NotificationInput[], webhookScope?: string | null): Promise<number>;
  listNotifications(userId: string, limit: number): Promise<Notification[]>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
