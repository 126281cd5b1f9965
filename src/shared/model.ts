// Domain types shared by every capability. IDs and seqs are decimal strings (bigint-safe in JSON).

export type MessageType = 'TEXT' | 'IMAGE' | 'SYSTEM';
export type RoomType = 'DIRECT' | 'GROUP';
/** private: joined by invitation only (the default); public: any user may join. DIRECT rooms are private. */
export type RoomVisibility = 'private' | 'public';
export type UserStatus = 'ONLINE' | 'OFFLINE';

export interface User {
  id: string;
  email: string;
  nickname: string;
  status: UserStatus;
  lastSeenAt: string | null;
}

/** A user as the services that act for one need it. */
export type UserRef = Pick<User, 'id'>;

/** What a connection keeps of its user for its lifetime (the rest of the row is not held per connection). */
export type SessionUser = Pick<User, 'id' | 'email'>;

export interface Room {
  id: string;
  name: string;
  type: RoomType;
  visibility: RoomVisibility;
  createdBy: string;
  createdAt: string;
}

/** A message as it travels through Kafka, before the log assigned its seq. */
export interface NewMessage {
  id: string;
  roomId: string;
  senderId: string;
  type: MessageType;
  content: string;
  idempotencyKey: string | null;
  createdAt: string;
}

/** Where the log put a message. */
export interface Appended {
  partition: number;
  offset: string;
  /** offset + 1: the message's place in its room. */
  seq: string;
}

/** A message with its place in the room's order. seq = partition offset + 1. */
export interface ChatMessage extends NewMessage {
  seq: string;
  partition: number;
  offset: string;
}

/** The JSON `message` of API.md. */
export interface MessageView {
  id: string;
  roomId: string;
  seq: string;
  senderId: string;
  type: MessageType;
  content: string;
  createdAt: string;
  unreadCount: number;
}

export interface MemberView {
  userId: string;
  nickname: string;
  status: UserStatus;
  lastSeenAt: string | null;
  lastReadSeq: string;
}

export function seqFromOffset(offset: string | bigint): string {
  return (BigInt(offset) + 1n).toString();
}

const MAX_BIGINT = 9_223_372_036_854_775_807n;

/** A decimal that fits PostgreSQL's bigint (seqs: leading zeros allowed, "0" means "from the start"). */
export function isDecimalId(s: string): boolean {
  return /^\d{1,19}$/.test(s) && BigInt(s) <= MAX_BIGINT;
}

/**
 * The one spelling of a row id (user, room): a positive decimal without leading zeros that fits bigint.
 * Ids are parsed once at the edge with this, so "007" can never name room 7 by another key (caches,
 * channel names and membership lookups all use the canonical string).
 */
export function isCanonicalId(s: string): boolean {
  return /^[1-9]\d{0,18}$/.test(s) && BigInt(s) <= MAX_BIGINT;
}

/** A seq in its canonical spelling ("007" -> "7"); the input must satisfy isDecimalId. */
export function canonicalSeq(s: string): string {
  return BigInt(s).toString();
}

/** The JSON `message` of API.md for a stored or just-appended message. */
export function toView(m: ChatMessage, unreadCount: number): MessageView {
  return {
    id: m.id,
    roomId: m.roomId,
    seq: m.seq,
    senderId: m.senderId,
    type: m.type,
    content: m.content,
    createdAt: m.createdAt,
    unreadCount,
  };
}
