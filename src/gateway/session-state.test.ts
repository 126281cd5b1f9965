// The session lifecycle on its own: the allowed moves, how two reasons to close combine, and when CLOSING ends.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Lifecycle, ReadyState, canMove, mergeEndings, type SessionFailure } from './session-state.js';

const { CONNECTING, OPEN, CLOSING, CLOSED } = ReadyState;
const BAD: SessionFailure = { code: 'bad-frame', message: 'bad' };
const SLOW: SessionFailure = { code: 'rate-limited', message: 'slow down' };

function lifecycle(finishMs = 1000) {
  const host = { busy: false, catchingUp: false, failed: [] as SessionFailure[], closes: 0 };
  const life: Lifecycle = new Lifecycle(
    {
      busy: () => host.busy,
      catchingUp: () => host.catchingUp,
      fail: (f) => {
        host.failed.push(f);
        life.enter(CLOSED);
      },
      close: () => {
        host.closes++;
        life.enter(CLOSED);
      },
    },
    finishMs,
  );
  return { life, host };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('session lifecycle', () => {
  it('allows exactly the moves of the table: forward only, CLOSED is final, OPEN is reached only from CONNECTING', () => {
    const all = [CONNECTING, OPEN, CLOSING, CLOSED];
    const allowed = all.flatMap((from) => all.filter((to) => canMove(from, to)).map((to) => `${from}->${to}`));
    expect(allowed).toEqual(['0->1', '0->2', '0->3', '1->2', '1->3', '2->3']);
    const { life } = lifecycle();
    life.enter(OPEN);
    expect(() => life.enter(CONNECTING)).toThrow('no move from state 1 to 0');
    life.enter(CLOSED);
    expect(() => life.enter(CLOSING)).toThrow();
  });

  it('an ERROR wins over a plain close, the first ERROR over a later one, and deafness sticks', () => {
    expect(mergeEndings(null, { failure: null, deaf: false })).toEqual({ failure: null, deaf: false });
    expect(mergeEndings({ failure: null, deaf: false }, { failure: BAD, deaf: true })).toEqual({ failure: BAD, deaf: true });
    expect(mergeEndings({ failure: SLOW, deaf: false }, { failure: BAD, deaf: true })).toEqual({ failure: SLOW, deaf: true });
  });

  it('CLOSING waits while work is in flight, then ends with the ERROR once finishIfDone finds nothing busy', () => {
    const { life, host } = lifecycle();
    life.enter(OPEN);
    host.busy = true;
    life.finish({ failure: SLOW, deaf: false });
    expect(life.state).toBe(CLOSING);
    life.finish({ failure: BAD, deaf: true });
    life.finishIfDone();
    expect(host.failed).toEqual([]);
    host.busy = false;
    life.finishIfDone();
    expect(host.failed).toEqual([SLOW]);
    expect(life.state).toBe(CLOSED);
    life.finishIfDone();
    expect(host.failed).toHaveLength(1);
  });

  it('a plain close (input ended) also waits for a catch-up; an ERROR does not', () => {
    const a = lifecycle();
    a.host.catchingUp = true;
    a.life.finish({ failure: null, deaf: false });
    expect(a.host.closes).toBe(0);
    a.host.catchingUp = false;
    a.life.finishIfDone();
    expect(a.host.closes).toBe(1);

    const b = lifecycle();
    b.host.catchingUp = true;
    b.life.finish({ failure: BAD, deaf: false });
    expect(b.host.failed).toEqual([BAD]);
  });

  it('CLOSING that never finishes is ended after finishMs; CLOSED before that cancels the deadline', () => {
    vi.useFakeTimers();
    const stuck = lifecycle(1000);
    stuck.host.busy = true;
    stuck.life.finish({ failure: null, deaf: false });
    vi.advanceTimersByTime(999);
    expect(stuck.host.closes).toBe(0);
    vi.advanceTimersByTime(1);
    expect(stuck.host.closes).toBe(1);

    const gone = lifecycle(1000);
    gone.host.busy = true;
    gone.life.finish({ failure: BAD, deaf: false });
    gone.life.enter(CLOSED);
    vi.advanceTimersByTime(5000);
    expect(gone.host.failed).toEqual([]);
  });
});
