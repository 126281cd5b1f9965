// The web client (web/) in a real browser: Debian's Chromium driven by playwright-core, two app instances,
// two people in two browser contexts. Sign-up through the UI, a direct room found by email, messages both ways,
// typing, unread counts in the room list, read receipts, and an offline period after which the client shows
// every missed message exactly once, in order (since-seq resume); blocking someone and the blocked list. Screenshots go to docs/screenshots/ with
// UPDATE_SCREENSHOTS=1 (the README's pictures), else to a temporary directory so a test run leaves the tree clean.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/chromium.mjs';
import { Api } from '../support/api.js';
import { ROOT, startServer, waitFor, type ServerProc } from '../support/cluster.js';

const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? `${ROOT}docs/screenshots` : join(tmpdir(), 'chat-screenshots');
const PASSWORD = 'correct horse battery';

interface ShownMessage {
  seq: string | undefined;
  state: string | undefined;
  unread: string | undefined;
  sender: string;
  text: string;
}

/** The messages of the open room as the page shows them, top to bottom. */
function shown(page: Page): Promise<ShownMessage[]> {
  return page.$$eval('#messages > li', (els) =>
    els.map((el) => {
      const li = el as HTMLElement;
      return {
        seq: li.dataset.seq,
        state: li.dataset.state,
        unread: li.dataset.unread,
        sender: li.querySelector('.sender')?.textContent ?? '',
        text: li.querySelector('.bubble')?.textContent ?? '',
      };
    }),
  );
}

async function until<T>(what: string, cond: () => Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  return waitFor(cond, ms, what, 50);
}

const texts = (list: ShownMessage[]) => list.map((m) => m.text);

function expectStrictlyIncreasing(seqs: Array<string | undefined>) {
  for (const s of seqs) expect(s).toMatch(/^\d+$/);
  for (let i = 1; i < seqs.length; i++) expect(BigInt(seqs[i]!)).toBeGreaterThan(BigInt(seqs[i - 1]!));
}

async function signUpInUi(page: Page, email: string, nickname: string, shot?: string) {
  await page.locator('#tab-signup').click();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel(/^Nickname/).fill(nickname);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  if (shot) await page.screenshot({ path: shot });
  await page.keyboard.press('Enter'); // the form submits from the keyboard
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout: 20_000 });
  expect(await page.locator('#me-name').textContent()).toBe(nickname);
}

/** Opens the web client at `baseUrl` and logs in as `email`; resolves once it is connected. */
async function logInInUi(page: Page, baseUrl: string, email: string) {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByLabel(/^Password/).press('Enter');
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout: 20_000 });
}

async function sendFromUi(page: Page, text: string) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

async function roomBadge(page: Page, roomId: string): Promise<string | null> {
  return page.locator(`#room-list li[data-room-id="${roomId}"]`).getAttribute('data-unread', { timeout: 1000 });
}

describe('web client in Chromium, two instances', () => {
  let s1: ServerProc;
  let s2: ServerProc;
  let browser: Browser;
  let ctxA: BrowserContext;
  let ctxB: BrowserContext;
  let pageA: Page;
  let pageB: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Installs Debian's chromium when missing; throws (failing the suite) when it cannot — never a silent skip.
    const executablePath = ensureChromium();
    mkdirSync(SHOTS, { recursive: true });
    [s1, s2] = await Promise.all([startServer({ env: { MODE: 'cluster' } }), startServer({ env: { MODE: 'cluster' } })]);
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    const options = { viewport: { width: 1100, height: 700 }, locale: 'en-GB', timezoneId: 'UTC' };
    [ctxA, ctxB] = await Promise.all([browser.newContext(options), browser.newContext(options)]);
    [pageA, pageB] = await Promise.all([ctxA.newPage(), ctxB.newPage()]);
    for (const [name, page] of [
      ['A', pageA],
      ['B', pageB],
    ] as const) {
      page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.stack ?? err.message}`));
      page.on('console', (msg) => {
        // While the context is offline, the browser itself logs the failed connection attempts: expected.
        if (msg.type() === 'error' && !/WebSocket connection to .* failed|net::ERR_INTERNET_DISCONNECTED/.test(msg.text()))
          pageErrors.push(`${name} console: ${msg.text()} (${msg.location().url})`);
      });
    }
  }, 900_000);

  beforeEach(() => {
    pageErrors.length = 0;
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([s1?.stop(), s2?.stop()]);
  });

  it('sign up, direct room by email, both ways, typing, unread, read receipts, offline resume without gap or duplicate', async () => {
    const tag = randomUUID().slice(0, 8);
    const emailA = `alice-${tag}@test.local`;
    const emailB = `bob-${tag}@test.local`;

    // --- sign up both, A on instance 1, B on instance 2 --------------------------------------------
    await Promise.all([pageA.goto(`${s1.baseUrl}/`), pageB.goto(`${s2.baseUrl}/`)]);
    await signUpInUi(pageA, emailA, 'Alice', `${SHOTS}/login.png`);
    await signUpInUi(pageB, emailB, 'Bob');

    // --- A finds B by exact email and opens a direct room ------------------------------------------
    await pageA.getByRole('button', { name: 'New conversation' }).click();
    await pageA.getByLabel('Find people').fill(emailB);
    await pageA.getByLabel('Find people').press('Enter');
    const result = pageA.locator('#search-results li');
    await until('B in the search results', async () => (await result.count()) === 1);
    expect(await result.textContent()).toContain(`Bob (${emailB})`);
    await pageA.getByRole('button', { name: 'Select Bob' }).click();
    await pageA.locator('#new-room-create').click();
    await pageA.locator('#room-body[data-loaded="true"]').waitFor();
    expect(await pageA.locator('#room-title').textContent()).toBe('Bob');
    const roomId = (await pageA.locator('#room-body').getAttribute('data-room-id'))!;
    expect(roomId).toMatch(/^\d+$/);

    // B's list gets the room live (room-added on /user/queue/notifications), named after A.
    const bRoom = pageB.locator(`#room-list li[data-room-id="${roomId}"]`);
    await bRoom.waitFor({ timeout: 15_000 });
    expect(await bRoom.locator('.room-name').textContent()).toBe('Alice');
    expect(await bRoom.getAttribute('data-unread')).toBe('0');

    // --- A writes twice while B looks at the room list: unread 1, then 2 ------------------------------
    await sendFromUi(pageA, 'Hi Bob!');
    await until('B unread 1', async () => (await roomBadge(pageB, roomId)) === '1');
    await sendFromUi(pageA, 'Are you there?');
    await until('B unread 2', async () => (await roomBadge(pageB, roomId)) === '2');
    await until('B list shows the last message', async () => (await bRoom.locator('.room-last').textContent())?.startsWith('Are you there?'));
    expect(await bRoom.locator('.badge').textContent()).toBe('2 unread');
    // On A's side both are sent and unread by B (a direct room: one other member).
    await until('A: both sent, unread 1', async () => {
      const list = await shown(pageA);
      return list.length === 2 && list.every((m) => m.state === 'sent' && m.unread === '1');
    });
    expect(texts(await shown(pageA))).toEqual(['Hi Bob!', 'Are you there?']);
    await pageB.screenshot({ path: `${SHOTS}/rooms.png` });

    // --- B opens the room: reads both, A sees the read receipt ---------------------------------------
    await bRoom.getByRole('button').click();
    await pageB.locator('#room-body[data-loaded="true"]').waitFor();
    expect(await pageB.locator('#room-title').textContent()).toBe('Alice');
    await until('B shows both', async () => (await shown(pageB)).length === 2);
    expect(texts(await shown(pageB))).toEqual(['Hi Bob!', 'Are you there?']);
    await until('A: read receipts turn unread to 0', async () => {
      const list = await shown(pageA);
      return list.length === 2 && list.every((m) => m.unread === '0');
    });
    expect(await pageA.locator('#messages > li .status').allTextContents()).toEqual(['Read', 'Read']);
    await until('B list unread back to 0', async () => (await roomBadge(pageB, roomId)) === '0');

    // Presence: A sees B online.
    await until('A sees B online', async () => (await pageA.locator('#room-sub').getAttribute('data-status')) === 'ONLINE');

    // --- A types: B sees it; A sends: B reads it at once (the room is on screen) -----------------------
    const aBox = pageA.getByLabel('Message', { exact: true });
    await aBox.pressSequentially('Good to see you', { delay: 20 });
    await until('B sees A typing', async () => (await pageB.locator('#typing').textContent()) === 'Alice is typing…', 10_000);
    await aBox.press('Enter');
    await until('B shows A message', async () => (await shown(pageB)).length === 3);
    await until('B: typing cleared by the message', async () => (await pageB.locator('#typing').textContent()) === '');
    await until('A: B read it', async () => (await shown(pageA)).at(-1)?.unread === '0');

    // --- B types: A sees it; B sends: A gets it, reads it, B sees 0 ------------------------------------
    const bBox = pageB.getByLabel('Message', { exact: true });
    await bBox.pressSequentially('Hello Alice', { delay: 20 });
    await until('A sees B typing', async () => (await pageA.locator('#typing').textContent()) === 'Bob is typing…', 10_000);
    await bBox.press('Enter');
    await until('A shows B message', async () => (await shown(pageA)).length === 4);
    expect(texts(await shown(pageA))).toEqual(['Hi Bob!', 'Are you there?', 'Good to see you', 'Hello Alice']);
    expect((await shown(pageA)).map((m) => m.sender)).toEqual(['You', 'You', 'You', 'Bob']);
    await until('A: typing cleared by the message', async () => (await pageA.locator('#typing').textContent()) === '');
    await until('B: A read it', async () => (await shown(pageB)).at(-1)?.unread === '0');
    expect((await shown(pageB)).map((m) => m.sender)).toEqual(['Alice', 'Alice', 'Alice', 'You']);

    // --- B goes offline; A sends 5; B writes one while offline; B comes back --------------------------
    await ctxB.setOffline(true);
    await until('B shows offline', async () => (await pageB.locator('#conn').getAttribute('data-state')) === 'offline', 10_000);
    await until('A sees B offline', async () => (await pageA.locator('#room-sub').getAttribute('data-status')) === 'OFFLINE', 20_000);
    const missed = ['Missed 1', 'Missed 2', 'Missed 3', 'Missed 4', 'Missed 5'];
    for (const text of missed) await sendFromUi(pageA, text);
    await until('A: 5 more sent', async () => {
      const list = await shown(pageA);
      return list.length === 9 && list.every((m) => m.state === 'sent');
    });
    await sendFromUi(pageB, 'Back soon'); // queued while offline: shown as pending
    const pendingB = pageB.locator('#messages > li[data-state="pending"]');
    await pendingB.waitFor();
    expect(await pendingB.locator('.status').textContent()).toBe('Waiting for connection…');
    expect(texts(await shown(pageB))).toEqual(['Hi Bob!', 'Are you there?', 'Good to see you', 'Hello Alice', 'Back soon']);

    await ctxB.setOffline(false);
    await until('B reconnected', async () => (await pageB.locator('#conn').getAttribute('data-state')) === 'connected', 30_000);
    const expected = ['Hi Bob!', 'Are you there?', 'Good to see you', 'Hello Alice', ...missed, 'Back soon'];
    await until('B shows all, sent', async () => {
      const list = await shown(pageB);
      return list.length === expected.length && list.every((m) => m.state === 'sent');
    });
    // The missed ones came from the since-seq replay: its RECEIPT says 5 replayed, ending at "Missed 5". B's queued
    // "Back soon" goes out on the same reconnect and races the replay: stored before the replay reads that far, it
    // is replayed too (6, ending at it); arriving live during the replay, it is delivered when the subscription goes
    // live, just before the RECEIPT (5 replayed, ending at it).
    const seqOf = async (text: string) => BigInt((await shown(pageB)).find((m) => m.text === text)!.seq!);
    const [missed5, backSoon] = [await seqOf('Missed 5'), await seqOf('Back soon')];
    // (The attribute still holds the first subscription's value until the new RECEIPT.)
    const synced = await until('B resumed with since-seq', async () => {
      const at = await pageB.locator('#room-body').getAttribute('data-synced');
      return at !== null && BigInt(at) >= missed5 ? at : null;
    });
    const replayed = await pageB.locator('#room-body').getAttribute('data-replayed');
    expect(
      [
        [missed5, '5'],
        [backSoon, '5'],
        [backSoon, '6'],
      ].map(([seq, n]) => `${seq}/${n}`),
    ).toContain(`${synced}/${replayed}`);
    // Give any duplicate or late replay time to show up, then assert exactly.
    await new Promise((r) => setTimeout(r, 1500));
    const finalB = await shown(pageB);
    expect(texts(finalB)).toEqual(expected);
    expectStrictlyIncreasing(finalB.map((m) => m.seq));
    expect(new Set(finalB.map((m) => m.seq)).size).toBe(expected.length);

    // The page agrees with the server's log, seq for seq.
    const tokenA = await pageA.evaluate(() => sessionStorage.getItem('chat.token'));
    const stored = await until('all stored', async () => {
      const all = await new Api(s1.baseUrl).allMessages({ id: '', email: emailA, token: tokenA! }, roomId);
      return all.length === expected.length ? all : null;
    });
    expect(stored.map((m: { content: string }) => m.content)).toEqual(expected);
    expect(finalB.map((m) => m.seq)).toEqual(stored.map((m: { seq: string }) => m.seq));

    // A gets B's message sent while offline, and B's reads of the missed ones.
    await until('A shows all 10', async () => (await shown(pageA)).length === expected.length);
    const finalA = await shown(pageA);
    expect(texts(finalA)).toEqual(expected);
    expect(finalA.map((m) => m.seq)).toEqual(finalB.map((m) => m.seq));
    await until('A: B read the missed ones', async () => (await shown(pageA)).slice(0, 9).every((m) => m.unread === '0'));
    await until('A sees B online again', async () => (await pageA.locator('#room-sub').getAttribute('data-status')) === 'ONLINE');
    await until('B: A read "Back soon"', async () => (await shown(pageB)).at(-1)?.unread === '0');
    await pageA.screenshot({ path: `${SHOTS}/chat.png` });

    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('history pages upward on scroll: every message exactly once, in order; log in and log out', async () => {
    const api = new Api(s2.baseUrl);
    const tag = randomUUID().slice(0, 6);
    const [owner, reader] = [await api.signup(`olga${tag}`), await api.signup(`rita${tag}`)];
    const roomId = await api.group(owner, [reader], `history-${randomUUID().slice(0, 6)}`);
    const N = 130;
    for (let i = 0; i < N; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, N - i) }, (_, j) => api.send(owner, roomId, `history ${i + j + 1}`)));
    }
    // 202 means Kafka has it; PostgreSQL (history) follows through the persist consumer.
    const stored = await until('all stored', async () => {
      const all = await api.allMessages(owner, roomId);
      return all.length === N ? all : null;
    });

    const ctx = await browser.newContext({ viewport: { width: 1000, height: 650 } });
    const page = await ctx.newPage();
    page.on('pageerror', (err) => pageErrors.push(`pager: ${err.message}`));
    await logInInUi(page, s2.baseUrl, reader.email);
    const item = page.locator(`#room-list li[data-room-id="${roomId}"]`);
    await item.waitFor();
    expect(await item.getAttribute('data-unread')).toBe(String(N));
    await item.getByRole('button').click();
    await page.locator('#room-body[data-loaded="true"]').waitFor();
    // First page: the newest 50.
    await until('first page', async () => (await shown(page)).length === 50);
    expect(texts(await shown(page))).toEqual(stored.slice(-50).map((m: { content: string }) => m.content));
    // Scroll to the top until the start of the conversation shows.
    await until(
      'all pages',
      async () => {
        await page.locator('#scroller').evaluate((el) => (el.scrollTop = 0));
        return page.locator('#history-start').isVisible();
      },
      20_000,
    );
    const all = await shown(page);
    expect(texts(all)).toEqual(stored.map((m: { content: string }) => m.content));
    expect(all.map((m) => m.seq)).toEqual(stored.map((m: { seq: string }) => m.seq));
    expect(await page.locator('#messages').getAttribute('data-pages')).toBe('3');

    // A group, the other member found by nickname prefix (no email shown for that).
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByLabel('Group', { exact: true }).check();
    const groupName = `Book club ${tag}`;
    await page.getByLabel('Group name').fill(groupName);
    await page.getByLabel('Find people').fill(`olga${tag}`);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const found = page.locator('#search-results li');
    await until('owner found by nickname', async () => (await found.count()) === 1);
    expect(await found.locator('span').first().textContent()).toBe(`olga${tag}`);
    await page.getByRole('button', { name: `Select olga${tag}` }).click();
    await page.getByRole('button', { name: 'Create group' }).click();
    await until('group open', async () => (await page.locator('#room-title').textContent()) === groupName);
    const groupId = (await page.locator('#room-body').getAttribute('data-room-id'))!;
    await until(
      'group in the list',
      async () => (await page.locator(`#room-list li[data-room-id="${groupId}"] .room-name`).textContent({ timeout: 500 })) === groupName,
    );
    const ownerRooms = (await api.call('GET', '/api/rooms', owner.token)).body.rooms as Array<{ id: string; name: string; type: string }>;
    expect(ownerRooms.find((r) => r.id === groupId)).toMatchObject({ name: groupName, type: 'GROUP' });

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#auth-view').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('chat.token'))).toBeNull();
    await ctx.close();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('block and unblock: a Block button by each person found, the Blocked people list; the blocked peer loses the direct room at once', async () => {
    const api = new Api(s1.baseUrl);
    const tag = randomUUID().slice(0, 6);
    const [me, pest] = [await api.signup(`bea${tag}`), await api.signup(`pat${tag}`)];
    const dm = await api.call('POST', '/api/rooms', pest.token, { type: 'DIRECT', peerUserId: me.id });
    expect(dm.status).toBe(201);
    const [ctxMe, ctxPest] = [await browser.newContext(), await browser.newContext()];
    const [page, pestPage] = [await ctxMe.newPage(), await ctxPest.newPage()];
    for (const p of [page, pestPage]) p.on('pageerror', (err) => pageErrors.push(`blocking: ${err.message}`));
    await logInInUi(page, s1.baseUrl, me.email);
    await logInInUi(pestPage, s2.baseUrl, pest.email);
    await pestPage.locator(`#room-list li[data-room-id="${dm.body.id}"]`).waitFor();

    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByLabel('Find people').fill(`pat${tag}`);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('button', { name: `Block pat${tag}` }).click();
    await page.getByRole('button', { name: `Unblock pat${tag}` }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('#blocked-panel summary').click();
    await until('listed as blocked', async () => (await page.locator('#blocked-list li span').allTextContents()).join() === `pat${tag}`);
    // The blocked user's direct room with me is gone from their list (live), and they cannot open another.
    await pestPage.locator(`#room-list li[data-room-id="${dm.body.id}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    expect((await api.call('POST', '/api/rooms', pest.token, { type: 'DIRECT', peerUserId: me.id })).status).toBe(400);

    await page
      .locator('#blocked-list')
      .getByRole('button', { name: `Unblock pat${tag}` })
      .click();
    await page.locator('#blocked-empty').waitFor({ state: 'visible' });
    expect(await page.locator('#blocked-list li').count()).toBe(0);
    const again = await api.call('POST', '/api/rooms', pest.token, { type: 'DIRECT', peerUserId: me.id });
    expect([again.status, again.body.id]).toEqual([200, dm.body.id]);
    await Promise.all([ctxMe.close(), ctxPest.close()]);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('a send whose RECEIPT is lost is sent again under the same idempotency key and shows once', async () => {
    const api = new Api(s1.baseUrl);
    const [sender, peer] = await api.pair('resend');
    const roomId = await api.group(sender, [peer], `resend-${randomUUID().slice(0, 6)}`);
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 650 } });
    // Every WebSocket of this context goes through here: we see the client's SENDs, and can withhold the
    // server's RECEIPT and MESSAGE frames (a connection that dies right after the server acknowledged).
    let hold = false;
    let page: Page | undefined;
    const sends: string[] = []; // idempotency keys of SENDs to the room, in order
    const sockets: Array<{ client: WebSocketRoute; server: WebSocketRoute }> = [];
    await ctx.routeWebSocket(/\/ws$/, (client) => {
      const server = client.connectToServer();
      sockets.push({ client, server });
      client.onMessage((m) => {
        for (const frame of String(m).split('\0')) {
          const key = /^idempotency-key:(.+)$/m.exec(frame)?.[1];
          if (frame.replace(/^\n+/, '').startsWith('SEND\n') && frame.includes(`destination:/topic/rooms.${roomId}\n`) && key) sends.push(key);
        }
        server.send(m);
      });
      server.onMessage((m) => {
        if (!hold) return client.send(m);
        const kept = String(m)
          .split('\0')
          .filter((f) => !/^\n*(RECEIPT\n(.*\n)*receipt-id:send-|MESSAGE\n(.*\n)*destination:\/topic\/rooms\.\d+\n)/.test(f));
        if (kept.join('').trim() !== '') client.send(kept.join('\0'));
      });
    });
    page = await ctx.newPage();
    page.on('pageerror', (err) => pageErrors.push(`resend: ${err.message}`));
    await logInInUi(page, s1.baseUrl, sender.email);
    await page.locator(`#room-list li[data-room-id="${roomId}"] button`).click();
    await page.locator('#room-body[data-synced]').waitFor();

    hold = true;
    await sendFromUi(page, 'Only once');
    // The server stored it, but this page heard nothing back: still pending.
    const stored = await until('stored', async () => {
      const all = await api.allMessages(peer, roomId);
      return all.length === 1 ? all : null;
    });
    expect(await shown(page)).toEqual([{ seq: undefined, state: 'pending', unread: undefined, sender: 'You', text: 'Only once' }]);
    expect(await page.locator('#messages > li .status').textContent()).toBe('Sending…');

    // The connection dies; the client reconnects, resumes the room and sends again under the same key.
    hold = false;
    const first = sockets.at(-1)!;
    await Promise.all([first.client.close(), first.server.close()]);
    await until('sent after the reconnect', async () => {
      const list = await shown(page!);
      return list.length === 1 && list[0]!.state === 'sent';
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(sockets.length).toBe(2);
    expect(sends).toHaveLength(2);
    expect(sends[1]).toBe(sends[0]);
    expect(await shown(page)).toEqual([{ seq: stored[0].seq, state: 'sent', unread: '1', sender: 'You', text: 'Only once' }]);
    expect((await api.allMessages(peer, roomId)).map((m: { seq: string }) => m.seq)).toEqual([stored[0].seq]);
    await ctx.close();
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
