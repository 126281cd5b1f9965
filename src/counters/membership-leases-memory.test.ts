// The embedded lease table's bound: full of live leases it grants no more (a leave must still see every lease it
// granted, so it never forgets one early); once they run out there is room again.
import { describe, expect, it } from 'vitest';
import { MemoryMembershipLeases } from './membership-leases-memory.js';

describe('MemoryMembershipLeases', () => {
  it('holds at most 100,000 live leases: the next announcement is refused, and accepted once they ran out', async () => {
    let now = 1_000;
    const leases = new MemoryMembershipLeases({ now: () => now });
    const pairs = Array.from({ length: 100_000 }, (_, i) => ({ roomId: String(i), userId: '7' }));
    await leases.announce(pairs, 2000);
    await expect(leases.announce([{ roomId: 'one', userId: 'more' }], 2000)).rejects.toThrow('too many membership leases');
    // The refused one was not recorded, and every granted one is still seen by a leave.
    expect(await leases.remainingMs('one', 'more')).toBe(0);
    expect(await leases.remainingMs('99999', '7')).toBe(2000);
    now += 2001;
    await leases.announce([{ roomId: 'one', userId: 'more' }], 2000);
    expect(await leases.remainingMs('one', 'more')).toBe(2000);
    expect(await leases.remainingMs('0', '7')).toBe(0);
  });
});
