// The bus's wire format: what every adapter writes decodes to the same batch, event or control message, and a
// malformed payload is refused (null) at the edge instead of reaching the hub.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MessageView } from '../shared/model.js';
import { decodeControl, decodeEvent, decodeRoomBatch, encodeEvent, encodeRoomBatch } from './wire.js';

const seq = fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String);
const view: fc.Arbitrary<MessageView> = fc.record({
  id: fc.uuid(),
  roomId: fc.constant('7'),
  seq,
  senderId: fc.bigInt({ min: 1n, max: 10n ** 18n }).map(String),
  type: fc.constantFrom('TEXT', 'IMAGE', 'SYSTEM'),
  content: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  createdAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  unreadCount: fc.nat(),
}) as fc.Arbitrary<MessageView>;

const V: MessageView = { id: 'a', roomId: '7', seq: '5', senderId: '1', type: 'TEXT', content: 'hi', createdAt: '2026-01-01T00:00:00.000Z', unreadCount: 2 };

describe('fan-out wire format: room batches', () => {
  it('decodes what it encodes, for any messages (unicode content, 19-digit seqs)', () => {
    fc.assert(
      fc.property(seq, fc.array(view, { maxLength: 5 }), (prev, messages) => {
        expect(decodeRoomBatch('7', encodeRoomBatch(prev, messages))).toEqual({ roomId: '7', prevSeq: prev, messages });
      }),
    );
  });

  it("reads the batch the Redis adapter's Lua script assembles by concatenation (fanout/redis.ts PUBLISH_ROOM)", () => {
    const parts = [V, { ...V, seq: '6', content: 'quote " and \\ and ☃' }].map((m) => JSON.stringify(m));
    const lua = '{"p":"' + '4' + '","m":[' + parts.join(',') + ']}';
    expect(decodeRoomBatch('7', lua)).toEqual({ roomId: '7', prevSeq: '4', messages: [V, { ...V, seq: '6', content: 'quote " and \\ and ☃' }] });
    expect(decodeRoomBatch('7', '{"p":"0","m":[]}')).toEqual({ roomId: '7', prevSeq: '0', messages: [] });
  });

  it.each([
    ['not JSON', '{"p":"1",'],
    ['JSON null', 'null'],
    ['no prevSeq', JSON.stringify({ m: [V] })],
    ['prevSeq not decimal', JSON.stringify({ p: '-1', m: [V] })],
    ['prevSeq over 19 digits', JSON.stringify({ p: '1'.repeat(20), m: [V] })],
    ['prevSeq a number', JSON.stringify({ p: 4, m: [V] })],
    ['messages not a list', JSON.stringify({ p: '4', m: V })],
    ['a seq not decimal', JSON.stringify({ p: '4', m: [{ ...V, seq: '5e3' }] })],
    ['a missing field', JSON.stringify({ p: '4', m: [{ ...V, content: undefined }] })],
    ['unreadCount as text', JSON.stringify({ p: '4', m: [{ ...V, unreadCount: '2' }] })],
  ])('refuses a batch with %s', (_what, payload) => {
    expect(decodeRoomBatch('7', payload)).toBeNull();
  });
});

describe('fan-out wire format: events and control messages', () => {
  it('events keep their type and any JSON body; a payload without a type is refused', () => {
    for (const body of [{ userId: '1' }, null, 'text', [1, 2], 0]) {
      expect(decodeEvent(encodeEvent({ eventType: 'typing', body }))).toEqual({ eventType: 'typing', body });
    }
    expect(decodeEvent(JSON.stringify({ b: {} }))).toBeNull();
    expect(decodeEvent(JSON.stringify({ t: 3, b: {} }))).toBeNull();
    expect(decodeEvent('not json')).toBeNull();
  });

  it('membership and presence changes as the Redis adapter publishes them ({k, ...change}); anything else is refused', () => {
    const joined = { roomId: '7', userId: '1', change: 'joined' as const };
    const online = { userId: '1', status: 'ONLINE' as const, lastSeenAt: '2026-01-01T00:00:00.000Z', roomIds: ['7', '8'] };
    expect(decodeControl(JSON.stringify({ k: 'm', ...joined }))).toEqual({ k: 'm', ...joined });
    expect(decodeControl(JSON.stringify({ k: 'p', ...online }))).toEqual({ k: 'p', ...online });
    for (const bad of [
      { k: 'm', ...joined, change: 'kicked' },
      { k: 'm', ...joined, roomId: 7 },
      { k: 'p', ...online, status: 'AWAY' },
      { k: 'p', ...online, roomIds: ['7', 8] },
      { k: 'p', ...online, lastSeenAt: null },
      { k: 'x', ...joined },
    ]) {
      expect(decodeControl(JSON.stringify(bad)), JSON.stringify(bad)).toBeNull();
    }
    expect(decodeControl('{')).toBeNull();
  });
});
