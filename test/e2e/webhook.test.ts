// Offline notifications by webhook, end to end in MODE=cluster (real Kafka, Redis, PostgreSQL, real server
// processes) against a real HTTP receiver started here: signed POSTs; only offline members (not the sender, not a
// member with a live session, not a member who left); every message of every offline member accepted exactly
// once (by message id, across deliveries; receivers dedupe deliveries by x-chat-delivery) through a receiver
// outage, a 500 storm, a receiver that hangs, and a SIGKILL of the process running the delivery worker
// mid-delivery; a delivery given up after NOTIFY_WEBHOOK_GIVE_UP_MS is listed by the operators' service and
// delivered under the same id once retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDeliveries } from '../../src/notifications/deliveries.js';
import { KyselyStore } from '../../src/store/kysely.js';
import { testLogger } from '../contract/support.js';
import { Api, type Account } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { WsStomp } from '../support/stomp.js';
import { WebhookReceiver, expectDeliveredOnce, sendMessages, webhookTestEnv } from '../support/webhook-receiver.js';
import { readSetting } from '../../src/config.js';

const SECRET = 'e2e-webhook-secret-0123456789';
const GIVE_UP_MS = 10_000;

let receiver: WebhookReceiver;
let gateway: ServerProc; // every role but notify
let notify1: ServerProc; // notify only: the consumer and the delivery worker (killed, then replaced by notify2)
let notify2: ServerProc | null = null;
let api: Api;
let sender: Account;
let offline: Account[];
let online: Account;
let doomed: Account;
let room: string;
const closers: Array<() => Promise<unknown>> = [];

const webhookEnv = (url: string) =>
  webhookTestEnv(url, SECRET, {
    NOTIFY_WEBHOOK_GIVE_UP_MS: String(GIVE_UP_MS),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'debug', // one line per POST attempt: what a failure here needs
  });
const send = (n: number, label: string) => sendMessages(api, sender, room, n, label);
const deliveredExactlyOnce = (ids: string[], what: string) => expectDeliveredOnce(receiver, ids, offline, [sender, online], what);

async function metric(server: ServerProc, line: RegExp): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  return Number(line.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  receiver = await WebhookReceiver.start(SECRET);
  gateway = await startServer({ roles: 'gateway,persist,broadcast,receipts', env: webhookEnv(receiver.url) });
  notify1 = await startServer({ roles: 'notify', env: webhookEnv(receiver.url) });
  api = new Api(gateway.baseUrl);
  const users = await api.users(6, 'hook');
  [sender, online, doomed] = users as [Account, Account, Account];
  offline = users.slice(3);
  room = await api.group(sender, [online, doomed, ...offline]);
  const ws = await WsStomp.connect(gateway.wsUrl, online.token);
  closers.push(() => ws.close());
  await waitFor(async () => (await api.memberStatus(sender, room, online.id))?.status === 'ONLINE', 10_000, 'the connected member shown ONLINE');
  // The doomed member's receiver endpoint answers 503 until the end: given up after GIVE_UP_MS, while the rest runs.
  // (The receiver also gets other runs' deliveries: this run's notify group queues every room's offline members.)
  receiver.answer = (r) => (r.body.userId === doomed.id ? 503 : 204);
}, 120_000);

afterAll(async () => {
  for (const c of closers) await c().catch(() => {});
  await Promise.all([gateway, notify1, notify2].map((s) => s?.stop().catch(() => s.kill())));
  await receiver?.close();
});

describe('offline notifications by webhook (cluster)', () => {
  it('POSTs signed deliveries to offline members only; a member who left gets none for later messages', async () => {
    const ids = await send(4, 'first');
    await deliveredExactlyOnce(ids, 'first messages');
    const r = receiver.forUser(offline[0]!.id)[0]!;
    expect(r.contentType).toBe('application/json');
    expect(r.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(r.body).toMatchObject({ id: r.deliveryId, type: 'offline-messages', userId: offline[0]!.id, roomId: room, count: r.body.messages.length });
    expect(r.body.messages[0]).toEqual({
      id: expect.any(String),
      roomId: room,
      seq: expect.stringMatching(/^\d+$/),
      senderId: sender.id,
      type: 'TEXT',
      content: expect.stringMatching(/^first /),
      createdAt: expect.any(String),
      unreadCount: 5,
    });
    const posts = offline.map((u) => receiver.forUser(u.id).length);
    // Coalescing is asserted exactly in webhook-worker.test.ts; here REST sends on a busy machine may span windows.
    console.log(`[webhook] 4 messages x ${offline.length} offline members: ${posts.join('/')} POSTs`);

    const leaver = offline.pop()!;
    expect((await api.call('POST', `/api/rooms/${room}/leave`, leaver.token)).status).toBe(200);
    const before = receiver.forUser(leaver.id).length;
    const later = await send(2, 'after the leave');
    await deliveredExactlyOnce(later, 'after the leave');
    expect(receiver.forUser(leaver.id)).toHaveLength(before);
  });

  it('(a) a receiver outage: retried until it is back, each message accepted once', async () => {
    const refused = () => metric(notify1, /^chat_webhook_requests_total\{outcome="network"[^}]*\} (\d+)/m);
    const before = await refused();
    await receiver.down();
    const ids = await send(3, 'outage');
    await waitFor(async () => (await refused()) >= before + 4, 30_000, 'refused POSTs retried');
    await receiver.up();
    await deliveredExactlyOnce(ids, 'after the outage');
  });

  it('(b) a 500 storm: retried with backoff, each message accepted once', async () => {
    let storm = 6;
    receiver.answer = (r) => (r.body.userId === doomed.id ? 503 : r.body.roomId === room && storm-- > 0 ? 500 : 204);
    const ids = await send(3, 'storm');
    await deliveredExactlyOnce(ids, 'after the 500 storm');
    expect(storm).toBeLessThan(0);
  });

  it('(c) a receiver that hangs: cut at the timeout, retried under the same delivery id, each message accepted once', async () => {
    let hang = 2;
    receiver.answer = (r) => (r.body.userId === doomed.id ? 503 : r.body.roomId === room && hang-- > 0 ? 'hang' : 204);
    const ids = await send(2, 'hang');
    await deliveredExactlyOnce(ids, 'after the hang');
    const hung = receiver.received.filter((r) => r.status === null && ids.includes(r.body.messages[0]!.id));
    expect(hung.length).toBe(2);
    for (const h of hung) expect(receiver.accepted().get(h.deliveryId)?.raw).toBe(h.raw);
    expect(await metric(notify1, /^chat_webhook_requests_total\{outcome="timeout"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(2);
  });

  it('SIGKILL of the process running the worker mid-delivery loses nothing: the next one delivers the same delivery id', async () => {
    let held: string | null = null;
    const alive = () => notify1.proc.exitCode === null && notify1.proc.signalCode === null;
    receiver.answer = (r) => {
      if (r.body.userId === doomed.id) return 503;
      if (r.body.roomId !== room) return 204; // other runs' rooms on the shared broker
      held ??= r.deliveryId;
      return r.deliveryId === held && alive() ? 'hang' : 204;
    };
    const ids = await send(2, 'kill');
    await waitFor(() => held !== null, 20_000, 'a POST held open');
    await notify1.kill(); // mid-delivery: the receiver has the request and has not answered
    const between = await send(1, 'while no notify process runs');
    notify2 = await startServer({ roles: 'notify', env: webhookEnv(receiver.url) });
    const after = await send(2, 'after the restart');
    await deliveredExactlyOnce([...ids, ...between, ...after], 'across the SIGKILL');
    const unanswered = receiver.received.find((r) => r.deliveryId === held && r.status === null); // notify1's
    expect(unanswered).toBeDefined();
    expect(receiver.accepted().get(held!)?.raw).toBe(unanswered!.raw); // the same delivery, accepted from notify2
  }, 90_000);

  it('a delivery given up is listed for operators and delivered under the same id once retried', async () => {
    const store = new KyselyStore({ connectionString: readSetting('DATABASE_URL'), max: 2 });
    closers.push(() => store.close());
    const ops = new WebhookDeliveries(store, process.env.KAFKA_GROUP_PREFIX ?? '', testLogger());
    const failedOfDoomed = async () => (await ops.listFailed({ limit: 500 })).deliveries.filter((d) => d.userId === doomed.id);
    const failed = await waitFor(
      async () => ((await failedOfDoomed()).length > 0 ? failedOfDoomed() : null),
      GIVE_UP_MS + 30_000,
      'the doomed deliveries given up',
    );
    expect(failed[0]).toMatchObject({ roomId: room, lastStatus: 503, lastError: 'HTTP 503' });
    expect(failed[0]!.attempts).toBeGreaterThanOrEqual(3);
    // Every message sent so far is in a pending or failed delivery of the doomed member; wait until all are failed.
    await waitFor(
      async () => {
        const list = await failedOfDoomed();
        return list.reduce((n, d) => n + d.count, 0) === receiver.acceptedMessageIds(offline[0]!.id).length;
      },
      GIVE_UP_MS + 30_000,
      "all of the doomed member's deliveries given up",
    );
    const all = await failedOfDoomed();
    receiver.answer = () => 204;
    const retried = await ops.retry(
      all.map((d) => d.id),
      'e2e',
    );
    expect(retried.notFound).toEqual([]);
    await waitFor(() => all.every((d) => receiver.accepted().has(d.id)), 30_000, 'retried deliveries accepted');
    const doomedIds = receiver.acceptedMessageIds(doomed.id).sort();
    expect(doomedIds).toEqual(receiver.acceptedMessageIds(offline[0]!.id).sort());
    expect((await failedOfDoomed()).length).toBe(0);
  }, 120_000);
});
