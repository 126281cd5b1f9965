// The web client's timeline (web/timeline.js) in Node: messages in seq order whatever order they arrive in, never
// twice, the resume point moved only by the ordered stream, unread counts and read positions that only move forward.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Timeline, mergeMembers, readMoved, readTarget, unreadOf, type Member, type Message } from '../../web/timeline.js';

const T0 = Date.parse('2026-01-01T10:00:00Z');
function msg(seq: number, senderId = '1', atMs = T0 + seq * 1000): Message {
  return { id: `m${seq}`, roomId: '7', seq: String(seq), senderId, type: 'TEXT', content: `c${seq}`, createdAt: new Date(atMs).toISOString(), unreadCount: 9 };
}
const member = (userId: string, lastReadSeq: string): Member => ({ userId, nickname: userId, status: 'ONLINE', lastSeenAt: null, lastReadSeq });
const order = (t: Timeline<string>) => [...t.seqs].map(String);

describe('web client timeline', () => {
  it('keeps messages in seq order (19-digit seqs compared as numbers) and tells where each went', () => {
    const t = new Timeline<string>();
    const views: string[] = [];
    const at = (seq: string) => t.insert({ ...msg(1), seq }, true, (m) => (views.push(m.seq), `el${m.seq}`)).index;
    expect(at('10')).toBe(0);
    expect(at('9')).toBe(0);
    expect(at('9223372036854775807')).toBe(2);
    expect(at('100')).toBe(2);
    expect(order(t)).toEqual(['9', '10', '100', '9223372036854775807']);
    expect(t.at(2)?.view).toBe('el100');
    expect(views).toEqual(['10', '9', '9223372036854775807', '100']);
    expect(t.streamSeq).toBe(9223372036854775807n);
  });

  it('a seq already shown is updated in place, never added twice (history page, replay and live overlap)', () => {
    const t = new Timeline<string>();
    t.insert(msg(1), true, () => 'a');
    const again = t.insert({ ...msg(1), unreadCount: 0 }, true, () => 'b');
    expect(again).toMatchObject({ isNew: false, index: -1 });
    expect(again.record).toMatchObject({ view: 'a', m: { unreadCount: 0, content: 'c1' } });
    expect(t.size).toBe(1);
  });

  it('any arrival order, with duplicates, gives the same sorted timeline without repeats', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 120 }), (seqs) => {
        const t = new Timeline<number>();
        for (const s of seqs) t.insert(msg(s), true, (m) => Number(m.seq));
        const expected = [...new Set(seqs)].sort((a, b) => a - b);
        expect([...t.records()].length).toBe(expected.length);
        expect(t.seqs.map(Number)).toEqual(expected);
        expect(expected.map((_, i) => t.at(i)?.view)).toEqual(expected);
        expect(t.streamSeq).toBe(BigInt(expected.at(-1) ?? 0));
      }),
    );
  });

  it('an acknowledged send of ours (not from the stream) does not move the resume point past a message still on its way', () => {
    const t = new Timeline<string>();
    t.insert(msg(5), true, () => '');
    t.insert(msg(7), false, () => '');
    expect(t.streamSeq).toBe(5n);
    t.insert(msg(6), true, () => '');
    expect(t.streamSeq).toBe(6n);
    t.clear();
    expect([t.size, t.streamSeq, t.seqs]).toEqual([0, 0n, []]);
  });

  it('a message continues the one before it only for the same sender within five minutes', () => {
    const t = new Timeline<string>();
    t.insert(msg(1, 'a', T0), true, () => '');
    t.insert(msg(2, 'a', T0 + 299_000), true, () => '');
    t.insert(msg(3, 'a', T0 + 299_000 + 300_000), true, () => '');
    t.insert(msg(4, 'b', T0 + 600_000), true, () => '');
    expect([0, 1, 2, 3, 4].map((i) => t.continues(i))).toEqual([null, true, false, false, null]);
  });

  it('unread = other members whose read position is below the message; the server count until members are known', () => {
    const members = new Map([member('1', '0'), member('2', '4'), member('3', '5')].map((m) => [m.userId, m]));
    expect(unreadOf(msg(5, '1'), members)).toBe(1);
    expect(unreadOf(msg(4, '2'), members)).toBe(1);
    expect(unreadOf(msg(4, '1'), members)).toBe(0);
    expect(unreadOf(msg(6, '3'), members)).toBe(2);
    expect(unreadOf(msg(6, '3'), new Map())).toBe(9);
  });

  it('read positions only move forward: a read event moves them and names the range whose counts changed; an older answer does not undo it', () => {
    const t = new Timeline<string>();
    for (let s = 1; s <= 6; s++) t.insert(msg(s), true, () => `e${s}`);
    const members = new Map([member('2', '2')].map((m) => [m.userId, m]));
    const moved = readMoved(members, '2', '5');
    expect(moved).toEqual([2n, 5n]);
    expect(t.between(...moved!).map((r) => r?.view)).toEqual(['e3', 'e4', 'e5']);
    expect(readMoved(members, '2', '4')).toBeNull();
    expect(readMoved(members, 'nobody', '9')).toBeNull();
    const merged = mergeMembers(members, [member('2', '3'), member('8', '1')]);
    expect([...merged.values()].map((m) => [m.userId, m.lastReadSeq])).toEqual([
      ['2', '5'],
      ['8', '1'],
    ]);
  });

  it('the read position to send is the newest seq on screen, and only when it is past what was sent', () => {
    expect(readTarget(['3', '12', '9'], 0n)).toBe(12n);
    expect(readTarget(['3', '12'], 12n)).toBeNull();
    expect(readTarget([], 0n)).toBeNull();
  });
});
