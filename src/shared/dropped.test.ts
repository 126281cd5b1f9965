// Dropped failures are counted, never silent: the helper, the events that use it and the metric behind it.
import { describe, expect, it } from 'vitest';
import { Events } from '../chat/events.js';
import { createMetrics } from '../metrics/metrics.js';
import { DROPPED_FAILURES, dropFailure, type DroppedFailure } from './dropped.js';

describe('dropped failures', () => {
  it('dropFailure resolves either way and counts only a failure, under its label', async () => {
    const seen: DroppedFailure[] = [];
    await expect(dropFailure(Promise.resolve(1), 'event', (w) => seen.push(w))).resolves.toBeUndefined();
    await expect(dropFailure(Promise.reject(new Error('down')), 'idempotency-key', (w) => seen.push(w))).resolves.toBeUndefined();
    expect(seen).toEqual(['idempotency-key']);
  });

  it("Events' best-effort publishes count what the bus refused, and still reject on the strict path", async () => {
    const seen: DroppedFailure[] = [];
    let fail = true;
    const publish = async () => (fail ? Promise.reject(new Error('bus down')) : undefined);
    const events = new Events({ publishEvent: publish, publishEvents: publish }, (w) => seen.push(w));
    await events.roomQuietly('1', 'member-joined', {});
    await events.userQuietly('2', 'room-removed', {});
    await expect(events.room('1', 'typing', {})).rejects.toThrow('bus down');
    // A refused publish of several events drops (and counts) each of them.
    await events.usersQuietly('unread', [
      { userId: '3', body: {} },
      { userId: '4', body: {} },
    ]);
    fail = false;
    await events.roomQuietly('1', 'member-joined', {});
    await events.usersQuietly('unread', [{ userId: '3', body: {} }]);
    expect(seen).toEqual(['event', 'event', 'event', 'event']);
  });

  it('chat_failures_dropped_total starts at zero for each of the fixed labels and counts by label', async () => {
    const m = createMetrics('dropped-test');
    const values = async () => Object.fromEntries((await m.failuresDropped.get()).values.map((v) => [String(v.labels.what), v.value]));
    expect(await values()).toEqual(Object.fromEntries(DROPPED_FAILURES.map((w) => [w, 0])));
    m.failuresDropped.inc({ what: 'membership-event' });
    expect((await values())['membership-event']).toBe(1);
    expect(DROPPED_FAILURES).toHaveLength(4);
  });
});
