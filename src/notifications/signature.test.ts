// The signature scheme against a vector computed outside Node (`printf '%s' '<t>.<body>' | openssl dgst -sha256
// -hmac <secret>`), the request an attempt sends, and the receiver-side check: forgeries, tampering and replays
// outside the tolerance are refused.
import { describe, expect, it } from 'vitest';
import { DELIVERY_HEADER, SIGNATURE_HEADER, deliveryBody, deliveryRequest, signature, verifySignature } from './signature.js';

const SECRET = 'whsec-0123456789abcdef';
const T = 1_767_225_600; // 2026-01-01T00:00:00Z

describe('webhook signature', () => {
  it('is t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>, as openssl computes it', () => {
    expect(signature(SECRET, '{"id":"x"}', T)).toBe(`t=${T},v1=e504a59ff84145af35836cedf3de36051d6adb19b8dba48a2f79daaecccc93a5`);
    expect(signature(SECRET, Buffer.from('{"id":"x"}'), T)).toBe(signature(SECRET, '{"id":"x"}', T));
  });

  it('builds the request: JSON body with count, delivery id header, signature of this attempt', () => {
    const message = {
      id: 'm1',
      roomId: '7',
      seq: '42',
      senderId: '1',
      type: 'TEXT' as const,
      content: 'hi',
      createdAt: '2026-01-01T00:00:00.000Z',
      unreadCount: 1,
    };
    const body = deliveryBody({ id: 'd1', userId: '2', roomId: '7', messages: [message] });
    expect(body).toEqual({ id: 'd1', type: 'offline-messages', userId: '2', roomId: '7', count: 1, messages: [message] });
    const req = deliveryRequest(body, SECRET, T * 1000 + 999);
    expect(JSON.parse(req.body)).toEqual(body);
    expect(req.headers).toEqual({ 'content-type': 'application/json', [DELIVERY_HEADER]: 'd1', [SIGNATURE_HEADER]: signature(SECRET, req.body, T) });
    // a retry a minute later: same bytes and id, a new timestamp
    const retry = deliveryRequest(body, SECRET, (T + 60) * 1000);
    expect(retry.body).toBe(req.body);
    expect(retry.headers[SIGNATURE_HEADER]).toMatch(new RegExp(`^t=${T + 60},v1=[0-9a-f]{64}$`));
    // no secret (outside production only): unsigned
    expect(deliveryRequest(body, null, T * 1000).headers).not.toHaveProperty(SIGNATURE_HEADER);
  });

  it('verifies as a receiver should: the right MAC within the tolerance only', () => {
    const raw = '{"id":"d1","count":1}';
    const now = T * 1000;
    const good = signature(SECRET, raw, T);
    expect(verifySignature(good, SECRET, raw, now)).toBe(true);
    expect(verifySignature(good, SECRET, raw, now + 300_000)).toBe(true);
    expect(verifySignature(good, SECRET, raw, now + 301_000)).toBe(false); // a replay 5 min later
    expect(verifySignature(signature(SECRET, raw, T + 400), SECRET, raw, now)).toBe(false); // from the future
    expect(verifySignature(good, SECRET, raw.replace('1', '2'), now)).toBe(false); // tampered body
    expect(verifySignature(good, 'another-secret-of-16', raw, now)).toBe(false); // forged with another key
    expect(verifySignature(good.replace(`t=${T}`, `t=${T + 1}`), SECRET, raw, now)).toBe(false); // timestamp moved
    expect(verifySignature(undefined, SECRET, raw, now)).toBe(false);
    expect(verifySignature(`${good},v0=00`, SECRET, raw, now)).toBe(false);
    expect(verifySignature(good.toUpperCase(), SECRET, raw, now)).toBe(false);
  });
});
