// The bus's wire format (shared by every adapter that serialises): compact JSON, checked on the way in so a
// malformed payload is dropped at the edge of the process instead of reaching the hub as an unchecked cast.
import type { MessageView } from '../shared/model.js';
import type { BusEvent, MembershipChange, PresenceChange } from './fanout.js';

const SEQ = /^\d{1,19}$/;
const isStr = (v: unknown): v is string => typeof v === 'string';

export function encodeRoomBatch(prevSeq: string, messages: readonly MessageView[]): string {
  return JSON.stringify({ p: prevSeq, m: messages });
}

function isView(v: unknown): v is MessageView {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    isStr(m.id) &&
    isStr(m.roomId) &&
    isStr(m.seq) &&
    SEQ.test(m.seq) &&
    isStr(m.senderId) &&
    isStr(m.type) &&
    isStr(m.content) &&
    isStr(m.createdAt) &&
    typeof m.unreadCount === 'number'
  );
}

/** null when the payload is not a room batch. */
export function decodeRoomBatch(roomId: string, payload: string): { roomId: string; prevSeq: string; messages: MessageView[] } | null {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return null;
  }
  const o = v as { p?: unknown; m?: unknown };
  if (!isStr(o?.p) || !SEQ.test(o.p) || !Array.isArray(o.m) || !o.m.every(isView)) return null;
  return { roomId, prevSeq: o.p, messages: o.m };
}

export function encodeEvent(e: BusEvent): string {
  return JSON.stringify({ t: e.eventType, b: e.body });
}

export function decodeEvent(payload: string): BusEvent | null {
  try {
    const o = JSON.parse(payload) as { t?: unknown; b?: unknown };
    return isStr(o?.t) ? { eventType: o.t, body: o.b } : null;
  } catch {
    return null;
  }
}

export type ControlMessage = ({ k: 'm' } & MembershipChange) | ({ k: 'p' } & PresenceChange);

export function decodeControl(payload: string): ControlMessage | null {
  try {
    const o = JSON.parse(payload) as Record<string, unknown>;
    if (o.k === 'm' && isStr(o.roomId) && isStr(o.userId) && (o.change === 'joined' || o.change === 'left')) return o as unknown as ControlMessage;
    if (
      o.k === 'p' &&
      isStr(o.userId) &&
      (o.status === 'ONLINE' || o.status === 'OFFLINE') &&
      isStr(o.lastSeenAt) &&
      Array.isArray(o.roomIds) &&
      o.roomIds.every(isStr)
    ) {
      return o as unknown as ControlMessage;
    }
    return null;
  } catch {
    return null;
  }
}
