// Membership with leases: two instances (two Membership objects) over one store and one lease table, as two
// processes share PostgreSQL and Redis. Time is faked (timers, Date and performance.now).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryMembershipLeases } from '../counters/membership-leases-memory.js';
import { LEASE_MS, Membership } from './membership.js';

/** A store of member pairs; `hold` makes the next areMembers answer wait (as read) until `release`. */
function fakeStore(members: string[]) {
  const set = new Set(members);
  const state = { queries: 0, held: null as null | (() => void), hold: false };
  const store = {
    isMember: async (roomId: string, userId: string) => set.has(`${roomId}:${userId}`),
    areMembers: async (pairs: ReadonlyArray<{ roomId: string; userId: string }>) => {
      state.queries++;
      const answers = pairs.map((p) => set.has(`${p.roomId}:${p.userId}`));
      if (state.hold) {
        state.hold = false;
        await new Promise<void>((r) => (state.held = r));
      }
      return answers;
    },
  };
  return { store, state, remove: (pair: string) => set.delete(pair) };
}

const P = { roomId: '1', userId: '7' };

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date', 'performance'] }));
afterEach(() => vi.useRealTimers());

describe('Membership leases', () => {
  it('a "member" answer is reused for LEASE_MS, then asked again; "not a member" is never reused', async () => {
    const { store, state } = fakeStore(['1:7']);
    const m = new Membership(store, new MemoryMembershipLeases());
    expect(await m.check([P, { roomId: '2', userId: '7' }])).toEqual([true, false]);
    expect(state.queries).toBe(1);
    expect(await m.check([P, P])).toEqual([true, true]);
    expect(state.queries).toBe(1);
    expect(await m.check([{ roomId: '2', userId: '7' }, P])).toEqual([false, true]);
    expect(state.queries).toBe(2);
    vi.advanceTimersByTime(LEASE_MS);
    expect(await m.check([P])).toEqual([true]);
    expect(state.queries).toBe(3);
  });

  it('without a lease table every batch asks the store (the previous behaviour)', async () => {
    const { store, state } = fakeStore(['1:7']);
    const m = new Membership(store);
    await m.check([P]);
    await m.check([P]);
    expect(state.queries).toBe(2);
  });

  it("a leave returns only after another instance's lease ran out; a check after it asks the store", async () => {
    const { store, state, remove } = fakeStore(['1:7']);
    const leases = new MemoryMembershipLeases();
    const sender = new Membership(store, leases);
    const leaver = new Membership(store, leases);
    expect(await sender.check([P])).toEqual([true]);
    vi.advanceTimersByTime(500);
    remove('1:7'); // the leave commits
    let returned = false;
    void leaver.leasesEnded('1', '7').then(() => (returned = true));
    expect(await sender.check([P])).toEqual([true]); // still leased: the leave has not returned
    await vi.advanceTimersByTimeAsync(LEASE_MS - 501);
    expect(returned).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(returned).toBe(true);
    expect(await sender.check([P])).toEqual([false]);
    expect(state.queries).toBe(2);
  });

  it('a store answer read before the leave committed but returned after it: the leave waits for that lease too', async () => {
    const { store, state, remove } = fakeStore(['1:7']);
    const leases = new MemoryMembershipLeases();
    const sender = new Membership(store, leases);
    const leaver = new Membership(store, leases);
    state.hold = true;
    const check = sender.check([P]);
    await vi.advanceTimersByTimeAsync(0);
    expect(state.held).not.toBeNull(); // the lease was announced, the store has answered "member", the answer is on its way
    remove('1:7');
    let returned = false;
    void leaver.leasesEnded('1', '7').then(() => (returned = true));
    await vi.advanceTimersByTimeAsync(100);
    state.held!();
    expect(await check).toEqual([true]);
    expect(await sender.check([P])).toEqual([true]);
    expect(returned).toBe(false);
    await vi.advanceTimersByTimeAsync(LEASE_MS);
    expect(returned).toBe(true);
    expect(await sender.check([P])).toEqual([false]);
  });

  it('a lease table that cannot announce grants no lease; one that cannot be read makes a leave wait the longest lease', async () => {
    const { store, state } = fakeStore(['1:7']);
    const broken = { announce: async () => Promise.reject(new Error('redis down')), remainingMs: async () => Promise.reject(new Error('redis down')) };
    const m = new Membership(store, broken);
    await m.check([P]);
    await m.check([P]);
    expect(state.queries).toBe(2);
    let returned = false;
    void m.leasesEnded('1', '7').then(() => (returned = true));
    await vi.advanceTimersByTimeAsync(LEASE_MS);
    expect(returned).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(returned).toBe(true);
  });

  it('a lease table that does not answer is passed by within a bound: the store answers, a leave waits the longest lease', async () => {
    const { store, state } = fakeStore(['1:7']);
    const hung = { announce: () => new Promise<void>(() => {}), remainingMs: () => new Promise<number>(() => {}) };
    const m = new Membership(store, hung);
    let answered: boolean[] | null = null;
    void m.check([P]).then((a) => (answered = a));
    await vi.advanceTimersByTimeAsync(499);
    expect(answered).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(answered).toEqual([true]);
    expect(state.queries).toBe(1);
    let returned = false;
    void m.leasesEnded('1', '7').then(() => (returned = true));
    await vi.advanceTimersByTimeAsync(500 + LEASE_MS);
    expect(returned).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(returned).toBe(true);
  });

  it("forget (a membership event) drops this instance's lease at once", async () => {
    const { store, state } = fakeStore(['1:7']);
    const m = new Membership(store, new MemoryMembershipLeases());
    await m.check([P]);
    m.forget('1', '7');
    await m.check([P]);
    expect(state.queries).toBe(2);
  });
});
