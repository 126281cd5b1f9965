// Server heart-beats on fake timers: the gap between two writes never exceeds the agreed interval, whatever the
// phase of the traffic (the beat is timed from the last write, not from a fixed tick).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeats, beatLead, negotiate } from './heartbeat.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A connection whose writes are recorded with their times; `write` is traffic, `sendHeartbeat` a heart-beat. */
function connection() {
  const writes: number[] = [performance.now()];
  let last = performance.now();
  const beats: number[] = [];
  return {
    writes,
    beats,
    write() {
      last = performance.now();
      writes.push(last);
    },
    io: {
      lastWriteAt: () => last,
      sendHeartbeat: () => {
        last = performance.now();
        writes.push(last);
        beats.push(last);
      },
      silentForMs: () => 0,
      peerDead: () => {},
      tokenExpired: () => {},
    },
  };
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('server heart-beats', () => {
  it('a write just after each beat (the worst phase for a fixed tick) never stretches the gap past the interval', async () => {
    const every = 1000;
    const c = connection();
    const hb = Heartbeats.start({ sendEvery: every, deadAfter: 0 }, c.io)!;
    // Each beat is followed 5 ms later by a frame: a tick that skipped "because something was written" would
    // leave almost 2 × 1000 ms of silence after it.
    let seen = 0;
    for (let t = 0; t < 60_000; t += 5) {
      await vi.advanceTimersByTimeAsync(5);
      if (c.beats.length > seen) {
        seen = c.beats.length;
        if (seen % 2 === 0) c.write();
      }
    }
    hb.stop();
    const g = gaps(c.writes);
    expect(Math.max(...g), `gaps ${g.join(',')}`).toBeLessThanOrEqual(every);
    expect(Math.min(...g.filter((x) => x > 50))).toBeGreaterThanOrEqual(every - beatLead(every) - 5);
  });

  it('random traffic: every gap ≤ the interval, and no beat while the connection is busy', async () => {
    const every = 2000;
    const c = connection();
    const hb = Heartbeats.start({ sendEvery: every, deadAfter: 0 }, c.io)!;
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 400; i++) {
      await vi.advanceTimersByTimeAsync(Math.floor(rand() * 3000));
      if (rand() < 0.5) c.write();
    }
    const busyBefore = c.beats.length;
    // Busy: a frame every 100 ms for 10 s — no heart-beat is needed, none is sent.
    for (let i = 0; i < 100; i++) {
      await vi.advanceTimersByTimeAsync(100);
      c.write();
    }
    expect(c.beats.length).toBe(busyBefore);
    hb.stop();
    expect(Math.max(...gaps(c.writes))).toBeLessThanOrEqual(every);
  });

  it('stop() ends the beats; no interval agreed, no timer', async () => {
    const c = connection();
    const hb = Heartbeats.start({ sendEvery: 500, deadAfter: 0 }, c.io)!;
    await vi.advanceTimersByTimeAsync(2000);
    const n = c.beats.length;
    expect(n).toBeGreaterThanOrEqual(4);
    hb.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(c.beats.length).toBe(n);
    expect(Heartbeats.start({ sendEvery: 0, deadAfter: 0 }, c.io)).toBeNull();
  });

  it('one timer for both directions: beats keep going while the peer talks; silence for deadAfter ends it, once', async () => {
    const c = connection();
    let heardAt = performance.now();
    let dead = 0;
    const io = { ...c.io, silentForMs: () => performance.now() - heardAt, peerDead: () => void dead++ };
    const hb = Heartbeats.start({ sendEvery: 1000, deadAfter: 3000 }, io)!;
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(500);
      heardAt = performance.now();
    }
    expect(dead).toBe(0);
    expect(c.beats.length).toBeGreaterThanOrEqual(9);
    expect(Math.max(...gaps(c.writes))).toBeLessThanOrEqual(1000);
    // The peer goes silent: declared dead 3000 ms after it was last heard, not a beat interval later.
    const silentFrom = performance.now();
    while (dead === 0 && performance.now() - silentFrom < 10_000) await vi.advanceTimersByTimeAsync(10);
    expect(dead).toBe(1);
    expect(performance.now() - silentFrom).toBeGreaterThanOrEqual(3000);
    expect(performance.now() - silentFrom).toBeLessThanOrEqual(3010);
    hb.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dead).toBe(1);
  });

  it("the token's end rides on the same timer: beats until then, the session ends at it, once, and nothing after", async () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const c = connection();
    let expired = 0;
    const io = { ...c.io, tokenExpired: () => void expired++ };
    const endsAt = Date.now() + 5300;
    Heartbeats.start({ sendEvery: 1000, deadAfter: 0 }, io, endsAt)!;
    await vi.advanceTimersByTimeAsync(5299);
    expect(expired).toBe(0);
    expect(c.beats.length).toBeGreaterThanOrEqual(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(expired).toBe(1);
    const beats = c.beats.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect([expired, c.beats.length]).toEqual([1, beats]);
    expect(vi.getTimerCount()).toBe(0);
    // Without heart-beats the timer is the token's alone; a token without an end and no beats: no timer at all.
    const alone = Heartbeats.start({ sendEvery: 0, deadAfter: 0 }, io, Date.now() + 2 ** 32)!;
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(expired).toBe(1);
    await vi.advanceTimersByTimeAsync(2 ** 32 - 2 ** 31);
    expect(expired).toBe(2);
    alone.stop();
    expect(Heartbeats.start({ sendEvery: 0, deadAfter: 0 }, io, null)).toBeNull();
  });

  it('an idle connection keeps one Timeout, re-armed at every beat (none made per beat)', async () => {
    const c = connection();
    const made = vi.spyOn(globalThis, 'setTimeout');
    const hb = Heartbeats.start({ sendEvery: 1000, deadAfter: 3000 }, { ...c.io, silentForMs: () => 500 })!;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(c.beats.length).toBeGreaterThanOrEqual(20);
    expect(made).toHaveBeenCalledTimes(1);
    // Traffic moves the next beat: one Timeout for the rest of the interval, one for the rhythm again, then none.
    await vi.advanceTimersByTimeAsync(450);
    c.write();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(made).toHaveBeenCalledTimes(3);
    expect(Math.max(...gaps(c.writes))).toBeLessThanOrEqual(1000);
    hb.stop();
    made.mockRestore();
  });

  it('negotiates per the spec: max(ours, cy) out, 2 × max(ours, cx) + grace in; 0 on either side turns a direction off', () => {
    expect(negotiate(1000, 0, 1500)).toEqual({ sendEvery: 1500, deadAfter: 0 });
    expect(negotiate(1000, 3000, 0)).toEqual({ sendEvery: 0, deadAfter: 8000 });
    expect(negotiate(0, 3000, 3000)).toEqual({ sendEvery: 0, deadAfter: 0 });
  });
});
