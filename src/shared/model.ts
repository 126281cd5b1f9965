// Domain types shared by every capability. IDs and seqs are decimal strings (bigint-safe in JSON).

export type MessageType = 'TEXT' | 'IMAGE' | 'SYSTEM';
export type RoomType = 'DIRECT' | 'GROUP';
export type UserStatus = 'ONLINE' | 'OFFLINE';

export interface User {
  id: string;
  email: string;
  nickname: string;
  status: UserStatus;
  lastSeenAt: string | null;
}

export interface Room {
  id: string;
  name: string;
  type: RoomType;
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

/** A decimal that fits PostgreSQL's bigint (ids and seqs). */
export function isDecimalId(s: string): boolean {
  return /^\d{1,19}$/.test(s) && BigInt(s) <= MAX_BIGINT;
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
