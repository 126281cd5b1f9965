// The operations console (#/ops) in Chromium against two real instances in cluster mode: an administrator sees both
// instances live (pushed over /topic/ops), traffic moves the rates, dead letters appear (a poison record
// dead-lettered by every group, and a dead letter whose cause went away), stopping the only persist consumer shows
// a not-ready group with growing lag and the instance dropping out, a persist consumer coming back drains it, a
// replay from the console stores the message, a discard of a selection hides the poison copies (marked with who did
// it, and an audit line in the log). A non-administrator sees no entry, cannot open the view and gets 403 / ERROR.
// The screenshot for the README goes to docs/screenshots/ops.png with UPDATE_SCREENSHOTS=1.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Producer } from '../../src/kafka/kafkajs.js';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/chromium.mjs';
import { Api, type Account } from '../support/api.js';
import { ROOT, startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { WsStomp } from '../support/stomp.js';
import { readSetting } from '../../src/config.js';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? `${ROOT}docs/screenshots` : join(tmpdir(), 'chat-screenshots');
const PASSWORD = 'correct horse battery';
const P = process.env.KAFKA_GROUP_PREFIX ?? '';
const BROKERS = readSetting('KAFKA_BROKERS');
const TAG = randomUUID().slice(0, 8);
const ADMIN_EMAIL = `ops-admin-${TAG}@test.local`;
const OPS_ENV = { ADMIN_EMAILS: ADMIN_EMAIL, OPS_INSTANCE_TIMEOUT_MS: '4000' };
const GROUPS = [`${P}chat-broadcast`, `${P}chat-notify`, `${P}chat-persist`];

const until = <T>(what: string, cond: () => Promise<T>, ms = 30_000) => waitFor(cond, ms, what, 100);

describe('operations console in Chromium, two instances', () => {
  let s1: ServerProc; // gateway + broadcast, notify, receipts: the instance the browser talks to
  let s2: ServerProc; // every role: the only persist consumer until it stops
  let s3: ServerProc | undefined;
  let browser: Browser;
  let page: Page;
  let api: Api;
  let admin: Account;
  let users: [Account, Account];
  let roomId: string;
  let producer: Producer;
  const kafka = new Kafka({ clientId: `test-ops-${TAG}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const executablePath = ensureChromium();
    mkdirSync(SHOTS, { recursive: true });
    [s1, s2] = await Promise.all([
      startServer({ roles: 'gateway,broadcast,notify,receipts', env: OPS_ENV, instanceId: `ops1-${TAG}` }),
      startServer({ env: OPS_ENV, instanceId: `ops2-${TAG}` }),
    ]);
    api = new Api(s1.baseUrl);
    const r = await api.call('POST', '/api/auth/signup', undefined, { email: ADMIN_EMAIL, password: PASSWORD, nickname: 'Operator' });
    expect(r.status).toBe(201);
    admin = { id: r.body.user.id, email: ADMIN_EMAIL, token: r.body.accessToken };
    users = await api.pair(`ops-${TAG}`);
    roomId = await api.group(users[0], [users[1]]);
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    page = await (await browser.newContext({ viewport: { width: 1400, height: 1500 }, locale: 'en-GB', timezoneId: 'UTC' })).newPage();
    page.on('pageerror', (err) => pageErrors.push(err.stack ?? err.message));
    page.on('console', (m) => void (m.type() === 'error' && pageErrors.push(`console: ${m.text()}`)));
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await producer?.disconnect().catch(() => {});
    await Promise.all([s1?.stop(), s2?.stop(), s3?.stop()].map((p) => p?.catch(() => {})));
  });

  async function logIn(email: string) {
    await page.goto(`${s1.baseUrl}/`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    // The console's admin check asks GET /api/users/me after every sign-in.
    const me = page.waitForResponse((r) => r.url().endsWith('/api/users/me'));
    await page.getByLabel(/^Password/).press('Enter');
    await page.locator('#conn[data-state="connected"]').waitFor({ timeout: 20_000 });
    await me;
  }

  const row = (id: string) => page.locator(`#ops-instances tr[data-instance-id="${id}"]`);
  const group = (name: string) => page.locator(`#ops-groups tr[data-group-id="${P}${name}"]`);
  const deadLetter = (offset: string) => page.locator(`#dead-letters tr[data-key="0:${offset}"]`);
  const num = async (loc: ReturnType<Page['locator']>, attr: string) => Number(await loc.getAttribute(attr, { timeout: 1000 }));
  const traffic = (n: number, text: string) => Promise.all(Array.from({ length: n }, (_, i) => api.send(users[i % 2]!, roomId, `${text} ${i}`)));

  it('a non-administrator sees no entry, cannot open the view, and gets 401/403 from /api/ops and ERROR forbidden on /topic/ops', async () => {
    await logIn(users[0].email);
    expect(await page.locator('#ops-link').isHidden()).toBe(true);
    await page.goto(`${s1.baseUrl}/#/ops`);
    await page.locator('#conn[data-state="connected"]').waitFor();
    expect(await page.locator('#ops-view').isHidden()).toBe(true);
    expect(await page.locator('#chat-view').isVisible()).toBe(true);
    for (const path of ['/api/ops/overview', '/api/ops/history', '/api/ops/dead-letters']) {
      expect((await api.call('GET', path, users[0].token)).status, path).toBe(403);
      expect((await api.call('GET', path)).status, path).toBe(401);
    }
    expect((await api.call('POST', '/api/ops/dead-letters/discard', users[0].token, { records: [{ partition: 0, offset: '0' }] })).status).toBe(403);
    expect((await api.call('GET', '/api/users/me', users[0].token)).body.admin).toBe(false);
    const stomp = await WsStomp.connect(s1.wsUrl, users[0].token);
    stomp.client.subscribe('/topic/ops', () => {});
    await until('ERROR forbidden', async () => stomp.errors.length > 0);
    expect(stomp.errors[0]!.headers.message).toBe('forbidden');
    await stomp.close();
    await page.getByRole('button', { name: 'Log out' }).click();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('an administrator sees both instances live, traffic moves the rates, dead letters appear, a stopped persist consumer shows a not-ready group with growing lag', async () => {
    await logIn(ADMIN_EMAIL);
    await page.locator('#ops-link').click();
    await page.locator('#ops-view[data-live="true"]').waitFor({ timeout: 20_000 });
    await until('both instances listed', async () => (await row(s1.instanceId).count()) === 1 && (await row(s2.instanceId).count()) === 1);
    expect(await row(s1.instanceId).locator('td').first().textContent()).toBe('gateway, broadcast, notify, receipts');
    // The admin's own session is on instance 1.
    await until('a session on instance 1', async () => (await num(row(s1.instanceId), 'data-sessions')) >= 1);

    // Steady traffic into a room with a live subscriber on instance 1: sends in, MESSAGE frames out, a latency.
    const listener = await WsStomp.connect(s1.wsUrl, users[1].token);
    let received = 0;
    await listener.subscribe(`/topic/rooms.${roomId}`, () => void received++);
    let sending = true;
    let sent = 0;
    const sender = (async () => {
      while (sending) {
        await traffic(2, `traffic ${sent}`);
        sent += 2;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await until(
      'messages in, deliveries out and a latency on instance 1',
      async () =>
        (await num(row(s1.instanceId), 'data-messages-in')) > 0 &&
        (await num(row(s1.instanceId), 'data-deliveries-out')) > 0 &&
        (await page.locator('[data-total="latency"] dd').textContent()) !== '– / – ms',
    );
    await until('the rate chart has points', async () => Number(await page.locator('.ops-chart').first().getAttribute('data-points')) > 3);

    // A poison record among the room's messages (every group dead-letters it) and a dead letter whose cause has
    // gone away (as the persist group would have written it after an outage).
    const partition = Number(BigInt(roomId) % 6n);
    const [poison] = await producer.send({ topic: 'chat.messages', acks: -1, messages: [{ key: roomId, value: `not json ${TAG}`, partition }] });
    const message = {
      id: randomUUID(),
      roomId,
      senderId: users[0].id,
      type: 'TEXT',
      content: `replayed from the console ${TAG}`,
      idempotencyKey: null,
      createdAt: new Date().toISOString(),
    };
    const [valid] = await producer.send({
      topic: 'chat.messages.dlt',
      acks: -1,
      messages: [
        {
          key: roomId,
          value: JSON.stringify(message),
          partition: 0,
          headers: {
            'x-error': 'simulated outage that went away',
            'x-attempts': '3',
            'x-consumer-group': `${P}chat-persist`,
            'x-source-topic': 'chat.messages',
            'x-source-partition': String(partition),
            'x-source-offset': '0',
          },
        },
      ],
    });
    const validOffset = valid!.baseOffset!;
    await deadLetter(validOffset).waitFor({ timeout: 30_000 });
    const copies = await until(
      'the poison record dead-lettered by the three groups',
      async () => {
        const r = await api.call('GET', '/api/ops/dead-letters?limit=200', admin.token);
        // Servers of other runs sharing the broker (other group prefixes) may dead-letter it too: ours only.
        const mine = (r.body.records as Array<{ offset: string; sourceOffset: string; sourcePartition: number; group: string }>).filter(
          (x) => x.sourceOffset === poison!.baseOffset && x.sourcePartition === partition && GROUPS.includes(x.group),
        );
        return mine.length === 3 ? mine : null;
      },
      60_000,
    );
    expect(copies.map((c) => c.group).sort()).toEqual(GROUPS);
    for (const c of copies) await deadLetter(c.offset).waitFor({ timeout: 20_000 });
    expect(await deadLetter(copies[0]!.offset).textContent()).toContain('is not JSON');
    await until('ChatDeadLetters pending', async () => (await page.locator('#ops-alerts li[data-alert="ChatDeadLetters"]').count()) > 0);
    await page.screenshot({ path: `${SHOTS}/ops.png`, fullPage: false });
    sending = false;
    await sender;
    await listener.close();
    expect(received).toBeGreaterThan(0);

    // The only persist consumer stops: its instance drops out, the group is not ready and falls behind.
    await s2.stop();
    await until('instance 2 dropped out', async () => (await row(s2.instanceId).count()) === 0, 20_000);
    await until('persist not ready', async () => (await group('chat-persist').getAttribute('data-ready', { timeout: 1000 })) === 'false');
    expect(await group('chat-persist').locator('td').nth(2).textContent()).toBe('not ready: no consumer running');
    // The lag on the page may still come from a read taken before the stop: take the one that holds still.
    const { lagBefore } = await until('a lag read after the stop', async () => {
      const first = await num(group('chat-persist'), 'data-lag');
      await sleep(1500);
      return first === (await num(group('chat-persist'), 'data-lag')) ? { lagBefore: first } : null;
    });
    await traffic(30, 'while persist is down');
    await until('persist lag grew by the 30 messages', async () => (await num(group('chat-persist'), 'data-lag')) >= lagBefore + 30);
    expect(await group('chat-broadcast').getAttribute('data-ready')).toBe('true');

    // A persist consumer comes back: ready again, and it catches up.
    s3 = await startServer({ roles: 'persist', env: OPS_ENV, instanceId: `ops3-${TAG}` });
    await until('instance 3 listed', async () => (await row(s3!.instanceId).count()) === 1);
    await until(
      'persist ready and caught up',
      async () => (await group('chat-persist').getAttribute('data-ready')) === 'true' && (await num(group('chat-persist'), 'data-lag')) < lagBefore + 30,
      60_000,
    );

    // Replay the dead letter whose cause went away: stored once, and it leaves the pending list.
    await page.getByRole('button', { name: `Replay dead letter ${validOffset}`, exact: true }).click();
    await until('replayed row gone', async () => (await deadLetter(validOffset).count()) === 0);
    const stored = await until(
      'the replayed message stored',
      async () => {
        const found = (await api.allMessages(users[0], roomId)).filter((m) => m.id === message.id);
        return found.length > 0 ? found : null;
      },
      60_000,
    );
    expect(stored.map((m) => m.content)).toEqual([message.content]);

    // Discard the poison record's three copies as one selection.
    for (const c of copies) await page.getByRole('checkbox', { name: `Select dead letter ${c.offset}`, exact: true }).check();
    await page.locator('#dead-letters').getByRole('button', { name: 'Discard selected' }).click();
    await until('discarded rows gone', async () => {
      for (const c of copies) if ((await deadLetter(c.offset).count()) > 0) return false;
      return true;
    });
    expect(await page.locator('#dead-letters [role=status]').textContent()).toBe('Discard: 3 discarded.');
    const all = (await api.call('GET', '/api/ops/dead-letters?limit=200&include=all', admin.token)).body.records as Array<{
      offset: string;
      handled: { action: string; actor: string } | null;
    }>;
    const handled = (o: string) => all.find((r) => r.offset === o)?.handled;
    for (const c of copies) expect(handled(c.offset)).toMatchObject({ action: 'discarded', actor: `user:${admin.id} ${ADMIN_EMAIL}` });
    expect(handled(validOffset)).toMatchObject({ action: 'replayed', actor: `user:${admin.id} ${ADMIN_EMAIL}` });

    // One audit line per action and record, naming who did it.
    const audit = readFileSync(`${ROOT}.stack/test-logs/${s1.instanceId}.log`, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"audit":"dead-letter"'))
      .map((l) => JSON.parse(l) as { action: string; actor: string; offset: string });
    expect(
      audit
        .filter((a) => a.action === 'discarded')
        .map((a) => a.offset)
        .sort(),
    ).toEqual(copies.map((c) => c.offset).sort());
    expect(audit.filter((a) => a.action === 'replayed').map((a) => a.offset)).toEqual([validOffset]);
    expect(new Set(audit.map((a) => a.actor))).toEqual(new Set([`user:${admin.id} ${ADMIN_EMAIL}`]));
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
