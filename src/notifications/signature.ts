// What a webhook POST carries and how it is signed (API.md "Offline notifications by webhook"): the body
// {id, type:"offline-messages", userId, roomId, count, messages}, `x-chat-delivery: <id>` and
// `x-chat-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp is that of
// the attempt (a retry is signed anew), so receivers can refuse old captures; the id stays the same.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MessageView } from '../shared/model.js';

export const DELIVERY_HEADER = 'x-chat-delivery';
export const SIGNATURE_HEADER = 'x-chat-signature';

export interface DeliveryBody {
  id: string;
  type: 'offline-messages';
  userId: string;
  roomId: string;
  /** Messages in this POST (they are all in `messages`, oldest first). */
  count: number;
  messages: MessageView[];
}

export function deliveryBody(d: { id: string; userId: string; roomId: string; messages: MessageView[] }): DeliveryBody {
  return { id: d.id, type: 'offline-messages', userId: d.userId, roomId: d.roomId, count: d.messages.length, messages: d.messages };
}

/** `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` for the attempt at `unixSeconds`. */
export function signature(secret: string, rawBody: string | Buffer, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.`).update(rawBody).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** The request of one attempt. Without a secret (allowed outside production only) it is unsigned. */
export function deliveryRequest(body: DeliveryBody, secret: string | null, nowMs: number): { body: string; headers: Record<string, string> } {
  const raw = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json', [DELIVERY_HEADER]: body.id };
  if (secret !== null) headers[SIGNATURE_HEADER] = signature(secret, raw, Math.floor(nowMs / 1000));
  return { body: raw, headers };
}

/**
 * A receiver's check (the tests use it; README shows the same in a few lines): the header parses, the MAC matches
 * in constant time, and the timestamp is within `toleranceSeconds` of now (older captures are replays).
 */
export function verifySignature(header: string | undefined, secret: string, rawBody: string | Buffer, nowMs: number, toleranceSeconds = 300): boolean {
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}
