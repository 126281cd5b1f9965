// The open room's timeline without the DOM: messages kept in seq order with no duplicate, the highest seq of the
// server's ordered stream (where a resume starts), who has not read what, and which message continues the one
// before it. RoomView draws it; test/web/timeline.test.ts runs it in Node.
import { big } from './dom.js';

/** A message continues the one before it (no name/time line) when the same sender wrote it within this long. */
export const CONTINUE_MS = 5 * 60_000;

/**
 * @typedef {{ id: string, roomId: string, seq: string, senderId: string, type: string, content: string,
 *   createdAt: string, unreadCount: number }} Message
 * @typedef {{ userId: string, nickname: string, status: string, lastSeenAt: string | null, lastReadSeq: string }} Member
 */

/** @template T */
export class Timeline {
  constructor() {
    /** @type {Map<string, { m: Message, view: T }>} seq -> record */
    this.bySeq = new Map();
    /** @type {bigint[]} ascending */
    this.seqs = [];
    /** Highest seq received from the server's ordered stream (history or the room subscription). */
    this.streamSeq = 0n;
  }

  get size() {
    return this.bySeq.size;
  }

  /** @param {string} seq */
  has(seq) {
    return this.bySeq.has(seq);
  }

  /** @param {number} i */
  at(i) {
    const seq = this.seqs[i];
    return seq === undefined ? undefined : this.bySeq.get(seq.toString());
  }

  records() {
    return this.bySeq.values();
  }

  /**
   * Puts a message at its place by seq. A seq already there is updated (its record returned, `index` -1), never
   * added twice. Only messages of the ordered stream move streamSeq: an acknowledged send of ours may arrive
   * before an earlier message that is still on its way.
   * @param {Message} m @param {boolean} fromStream @param {(m: Message) => T} viewOf
   * @returns {{ record: { m: Message, view: T }, index: number, isNew: boolean }}
   */
  insert(m, fromStream, viewOf) {
    const seq = big(m.seq);
    if (fromStream && seq > this.streamSeq) this.streamSeq = seq;
    const known = this.bySeq.get(m.seq);
    if (known) {
      known.m = { ...known.m, ...m };
      return { record: known, index: -1, isNew: false };
    }
    // Binary search: the first seq greater than this one.
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.seqs[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    const record = { m, view: viewOf(m) };
    this.seqs.splice(lo, 0, seq);
    this.bySeq.set(m.seq, record);
    return { record, index: lo, isNew: true };
  }

  /**
   * Whether the message at `i` continues the one before it (same sender, within CONTINUE_MS); null when there is
   * no message at `i` or before it.
   * @param {number} i
   */
  continues(i) {
    if (i <= 0 || i >= this.seqs.length) return null;
    const rec = this.at(i);
    const prev = this.at(i - 1);
    return prev.m.senderId === rec.m.senderId && Math.abs(Date.parse(rec.m.createdAt) - Date.parse(prev.m.createdAt)) < CONTINUE_MS;
  }

  /**
   * The records whose seq is in (from, to]: the messages a read position moving from `from` to `to` changes.
   * @param {bigint} from @param {bigint} to
   */
  between(from, to) {
    return this.seqs.filter((s) => s > from && s <= to).map((s) => this.bySeq.get(s.toString()));
  }

  clear() {
    this.bySeq.clear();
    this.seqs = [];
    this.streamSeq = 0n;
  }
}

/**
 * Members other than the sender whose read position is below the message (API.md); the server's count while the
 * members are not known yet.
 * @param {Message} m @param {Map<string, Member>} members
 */
export function unreadOf(m, members) {
  if (members.size === 0) return m.unreadCount;
  const seq = big(m.seq);
  let n = 0;
  for (const mem of members.values()) if (mem.userId !== m.senderId && big(mem.lastReadSeq) < seq) n++;
  return n;
}

/**
 * A fresh member list (GET /api/rooms/<id>) over the one known: read positions only move forward, so an answer
 * older than a `read` event already applied does not undo it. Returns the new map; `fresh` is updated in place.
 * @param {Map<string, Member>} known @param {Member[]} fresh
 */
export function mergeMembers(known, fresh) {
  for (const m of fresh) {
    const k = known.get(m.userId);
    if (k && big(k.lastReadSeq) > big(m.lastReadSeq)) m.lastReadSeq = k.lastReadSeq;
  }
  return new Map(fresh.map((m) => [m.userId, m]));
}

/**
 * A `read` event: moves the member's position forward (never back); returns the range of seqs whose unread count
 * changed, or null when nothing moved.
 * @param {Map<string, Member>} members @param {string} userId @param {string} lastReadSeq
 * @returns {[bigint, bigint] | null}
 */
export function readMoved(members, userId, lastReadSeq) {
  const mem = members.get(userId);
  if (!mem || big(lastReadSeq) <= big(mem.lastReadSeq)) return null;
  const from = big(mem.lastReadSeq);
  mem.lastReadSeq = lastReadSeq;
  return [from, big(lastReadSeq)];
}

/**
 * The read position to send for what is on screen: the newest visible seq, or null when it is not past what was
 * already sent.
 * @param {Iterable<string>} visible @param {bigint} readSent
 */
export function readTarget(visible, readSent) {
  let top = 0n;
  for (const s of visible) if (big(s) > top) top = big(s);
  return top > readSent ? top : null;
}
