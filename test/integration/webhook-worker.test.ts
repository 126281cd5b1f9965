// The delivery worker against a real store (PGlite in a temporary folder, the embedded mode's database) and a real
// HTTP receiver: coalescing per member, room and window with the message cap, signatures, the concurrency bound,
// retries through 5xx / timeouts / refused connections, 4xx failing at once, give-up recorded as a failed delivery
// that the operators' service lists and retries under the same id, leavers dropped, and a stop that loses nothing.
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookConfig } from '../../src/config.js';
import { webhookMetrics, type WebhookMetrics } from '../../src/metrics/webhook.js';
import { WebhookDeliveries } from '../../src/notifications/deliveries.js';
import { WebhookWorker } from '../../src/notifications/worker.js';
import { MIGRATIONS_DIR } from '../../src/paths.js';
import type { ChatMessage, User } from '../../src/shared/model.js';
import { openPgliteStore, type PgliteStore } from '../../src/store/pglite.js';
import { tempDir, testLogger } from '../contract/support.js';
import { waitFor } from '../support/cluster.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'worker-test-secret-0123';
let db: PgliteStore;
let folder: { dir: string; remove(): Promise<void> };
let receiver: WebhookReceiver;
const workers: WebhookWorker[] = [];
let seq = 0;
let n = 0;

beforeAll(async () => {
  folder = await tempDir('webhook-worker');
  db = await openPgliteStore(folder.dir, MIGRATIONS_DIR);
});
afterAll(async () => {
  await db?.close();
  await folder?.remove();
});
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
  await receiver?.close();
});

function settings(over: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    url: receiver.url,
    secret: SECRET,
    windowMs: 100,
    maxMessages: 50,
    timeoutMs: 1000,
    concurrency: 4,
    backoffMs: 50,
    backoffMaxMs: 200,
    giveUpMs: 60_000,
    ...over,
  };
}

function worker(scope: string, over: Partial<WebhookConfig> = {}, metrics: WebhookMetrics = webhookMetrics([new Registry()])) {
  const w = new WebhookWorker({ outbox: db.store, settings: settings(over), scope, metrics, log: testLogger() });
  workers.push(w);
  w.start();
  return { w, metrics };
}

/** A room of a sender and `count` offline members with `k` stored messages, queued for the webhook in `scope`. */
async function queued(scope: string, count: number, k: number) {
  const user = (): Promise<User> => db.store.createUser({ email: `w${++n}-${randomUUID()}@worker.test`, passwordHash: 'h', nickname: `w${n}` });
  const sender = await user();
  const members = await Promise.all(Array.from({ length: count }, user));
  const room = await db.store.createGroupRoom(
    sender.id,
    'worker',
    members.map((m) => m.id),
    'private',
  );
  const messages: ChatMessage[] = Array.from({ length: k }, (_, i) => ({
    id: randomUUID(),
    roomId: room.id,
    senderId: sender.id,
    type: 'TEXT',
    content: `m${i}`,
    idempotencyKey: null,
    createdAt: new Date().toISOString(),
    seq: String(++seq),
    partition: 0,
    offset: String(seq - 1),
  }));
  await db.store.insertMessages(messages);
  await db.store.insertNotifications(
    members.flatMap((u) => messages.map((m) => ({ userId: u.id, roomId: room.id, messageId: m.id, seq: m.seq, senderId: sender.id, preview: '' }))),
    scope,
  );
  return { sender, members, room, messages };
}

const value = async (m: WebhookMetrics['deliveries'] | WebhookMetrics['requests'], outcome: string) =>
  (await m.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

describe('webhook delivery worker (PGlite, real receiver)', () => {
  it("coalesces a member's messages of a room into one signed POST, splitting at the cap; every message once", async () => {
    receiver = await WebhookReceiver.start(SECRET);
    const scope = `s${randomUUID()}`;
    const { members, messages, room } = await queued(scope, 2, 5);
    const { metrics } = worker(scope, { maxMessages: 3 });
    await waitFor(() => receiver.accepted().size === 4, 10_000, 'four deliveries (3 + 2 per member)');
    for (const r of receiver.received) {
      expect(r.verified).toBe(true);
      expect(r.contentType).toBe('application/json');
      expect(r.body).toMatchObject({ id: r.deliveryId, type: 'offline-messages', roomId: room.id, count: r.body.messages.length });
    }
    for (const u of members) {
      const mine = receiver
        .forUser(u.id)
        .map((r) => r.body.count)
        .sort();
      expect(mine).toEqual([2, 3]);
      // each message once; deliveries may arrive in any order, the messages of each are in seq order
      expect(receiver.acceptedMessageIds(u.id).sort()).toEqual(messages.map((m) => m.id).sort());
      for (const r of receiver.forUser(u.id))
        expect(r.body.messages.map((m) => Number(m.seq))).toEqual(r.body.messages.map((m) => Number(m.seq)).sort((a, b) => a - b));
    }
    // counted once settled in the store (just after the receiver's answer)
    await waitFor(async () => (await value(metrics.deliveries, 'delivered')) === 4, 10_000, 'four deliveries counted');
    expect((await metrics.messagesDelivered.get()).values[0]!.value).toBe(10);
    expect(receiver.received).toHaveLength(4);
  });

  it('holds at most `concurrency` POSTs at once; hung ones time out and are retried under the same id', async () => {
    receiver = await WebhookReceiver.start(SECRET);
    let hang = true;
    receiver.answer = () => (hang ? 'hang' : 200);
    const scope = `s${randomUUID()}`;
    await queued(scope, 6, 1);
    const { w, metrics } = worker(scope, { concurrency: 2, timeoutMs: 300 });
    let maxActive = 0;
    const probe = setInterval(() => (maxActive = Math.max(maxActive, w.active)), 5);
    await waitFor(() => receiver.received.length >= 6, 15_000, 'six hung requests (three rounds of two)');
    expect(await value(metrics.requests, 'timeout')).toBeGreaterThanOrEqual(4);
    hang = false;
    await waitFor(() => receiver.accepted().size === 6, 15_000, 'all six delivered once the receiver answers');
    clearInterval(probe);
    expect(maxActive).toBeLessThanOrEqual(2);
    expect(maxActive).toBe(2);
    // each delivery id that hung came back with the same body
    for (const r of receiver.received) expect(r.raw).toBe(receiver.accepted().get(r.deliveryId)!.raw);
  });

  it('retries through a 500 storm and an outage; a 4xx fails at once; a leaver gets nothing', async () => {
    receiver = await WebhookReceiver.start(SECRET);
    receiver.answer = () => 500;
    const scope = `s${randomUUID()}`;
    const { members, room, messages } = await queued(scope, 3, 2);
    const [stays, refused, leaver] = members as [User, User, User];
    await db.store.removeMember(room.id, leaver.id);
    const { metrics } = worker(scope);
    await waitFor(() => receiver.received.length >= 6, 10_000, 'a few 500s');
    await receiver.down();
    await waitFor(async () => (await value(metrics.requests, 'network')) >= 2, 10_000, 'refused connections retried');
    receiver.answer = (r) => (r.body.userId === refused.id ? 401 : 200);
    await receiver.up();
    await waitFor(async () => receiver.accepted().size === 1 && (await value(metrics.deliveries, 'failed')) === 1, 10_000, 'delivered once, refused once');
    expect(receiver.acceptedMessageIds()).toEqual(messages.map((m) => m.id));
    expect([...receiver.accepted().values()][0]!.body.userId).toBe(stays.id);
    expect(receiver.forUser(refused.id).filter((r) => r.status === 401)).toHaveLength(1); // 4xx: no retry
    expect(receiver.forUser(leaver.id)).toEqual([]);
    expect(await value(metrics.deliveries, 'dropped')).toBe(1);
    expect(await value(metrics.requests, 'http_5xx')).toBeGreaterThanOrEqual(2);
    // the refused one is kept as failed until an operator discards it
    const ops = new WebhookDeliveries(db.store, scope, testLogger());
    const [refusedDelivery] = (await ops.listFailed()).deliveries;
    expect(refusedDelivery).toMatchObject({ userId: refused.id, lastStatus: 401, lastError: 'HTTP 401' });
    expect(refusedDelivery!.attempts).toBeGreaterThan(1); // the 500s and refused connections before the 401
    const unknown = randomUUID();
    expect(await ops.discard([refusedDelivery!.id, unknown], 'tester')).toEqual({ discarded: [refusedDelivery!.id], notFound: [unknown] });
    expect(await ops.failedCount()).toBe(0);
    expect(await ops.retry([refusedDelivery!.id], 'tester')).toEqual({ retried: [], notFound: [refusedDelivery!.id] });
  });

  it("gives up after the give-up time; the operators' service lists it and a retry delivers it under the same id", async () => {
    receiver = await WebhookReceiver.start(SECRET);
    receiver.answer = () => 503;
    const scope = `s${randomUUID()}`;
    const { members, messages } = await queued(scope, 1, 3);
    const { metrics } = worker(scope, { giveUpMs: 1000, backoffMs: 100, backoffMaxMs: 200 });
    const ops = new WebhookDeliveries(db.store, scope, testLogger());
    const failed = await waitFor(async () => (await ops.listFailed()).deliveries[0], 10_000, 'a failed delivery');
    const attempts = receiver.received.length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(failed).toMatchObject({ userId: members[0]!.id, count: 3, attempts, lastStatus: 503, lastError: 'HTTP 503' });
    expect(await value(metrics.deliveries, 'failed')).toBe(1);
    expect((await ops.listFailed()).total).toBe(1);
    expect(await ops.failedCount()).toBe(1);

    receiver.answer = () => 200;
    expect(await ops.retry([failed.id], 'tester')).toEqual({ retried: [failed.id], notFound: [] });
    await waitFor(() => receiver.accepted().size === 1, 10_000, 'the retried delivery accepted');
    expect([...receiver.accepted().keys()]).toEqual([failed.id]);
    expect(receiver.acceptedMessageIds()).toEqual(messages.map((m) => m.id));
    expect((await ops.listFailed()).total).toBe(0);
    expect(await ops.failedCount()).toBe(0);
    await expect(ops.retry(['not-a-uuid'], 'tester')).rejects.toMatchObject({ code: 'invalid-request', field: 'ids' });
    await expect(ops.retry([], 'tester')).rejects.toMatchObject({ code: 'invalid-request', field: 'ids' });
    await expect(
      ops.discard(
        Array.from({ length: 501 }, () => randomUUID()),
        'tester',
      ),
    ).rejects.toMatchObject({ code: 'invalid-request', field: 'ids' });
    await expect(ops.listFailed({ limit: 501 })).rejects.toMatchObject({ code: 'invalid-request', field: 'limit' });
    await expect(ops.listFailed({ limit: 0 })).rejects.toMatchObject({ code: 'invalid-request', field: 'limit' });
    await expect(ops.listFailed({ before: 'x' })).rejects.toMatchObject({ code: 'invalid-request', field: 'before' });
  });

  it('a worker stopped mid-POST loses nothing: the next one delivers the same delivery id', async () => {
    receiver = await WebhookReceiver.start(SECRET);
    receiver.answer = () => 'hang';
    const scope = `s${randomUUID()}`;
    const { messages } = await queued(scope, 1, 2);
    const first = worker(scope, { timeoutMs: 5000 });
    await waitFor(() => receiver.received.length === 1, 10_000, 'the first POST in flight');
    await first.w.close();
    receiver.answer = () => 200;
    worker(scope);
    await waitFor(() => receiver.accepted().size === 1, 10_000, 'delivered by the next worker');
    expect(receiver.received.map((r) => r.deliveryId)).toEqual([receiver.received[0]!.deliveryId, receiver.received[0]!.deliveryId]);
    expect(receiver.acceptedMessageIds()).toEqual(messages.map((m) => m.id));
  });
});
