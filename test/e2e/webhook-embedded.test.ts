// Offline notifications by webhook in MODE=embedded (PGlite, local log; one real server process), received by the
// README's receiver example itself: its code block is read from README.md and run as a process, behind a recording
// proxy (test/support/webhook-receiver.ts) that forwards each POST and answers with the example's status. So the
// example's verification accepts real deliveries and refuses a forged, a tampered, an unsigned and a replayed one;
// and the embedded mode keeps every offline member's message exactly once through a 500 storm and a SIGKILL of the
// server mid-delivery followed by a restart on the same data folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signature } from '../../src/notifications/signature.js';
import { Api, type Account } from '../support/api.js';
import { ROOT, freePort, startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { WsStomp } from '../support/stomp.js';
import { WebhookReceiver, expectDeliveredOnce, sendMessages, webhookTestEnv, type Received } from '../support/webhook-receiver.js';

const SECRET = 'embedded-webhook-secret-0123';
const dir = mkdtempSync(join(tmpdir(), 'chat-webhook-embedded-'));

/** The README's receiver, exactly as printed there. */
function readmeReceiver(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /```js\n(\/\/ receiver\.mjs[\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no ```js block starting with "// receiver.mjs"');
  return m[1]!;
}

let example: ChildProcess;
let exampleUrl: string;
const printed: string[] = [];
let proxy: WebhookReceiver;
let server: ServerProc;
let api: Api;
let sender: Account;
let offline: Account[];
let online: Account;
let room: string;
const closers: Array<() => Promise<unknown>> = [];

/** Forwards a recorded request to the README receiver, as the server sent it; resolves with its status. */
async function forward(r: Pick<Received, 'raw' | 'headers'>, headers: Record<string, string | undefined> = {}): Promise<number> {
  const h: Record<string, string> = {};
  for (const name of ['content-type', 'x-chat-delivery', 'x-chat-signature']) {
    const v = name in headers ? headers[name] : r.headers[name];
    if (v !== undefined) h[name] = v;
  }
  const res = await fetch(exampleUrl, { method: 'POST', headers: h, body: r.raw });
  await res.arrayBuffer();
  return res.status;
}

const embedded = () => startServer({ env: { MODE: 'embedded', DATA_DIR: dir, ...webhookTestEnv(proxy.url, SECRET) } });
const send = (n: number, label: string) => sendMessages(api, sender, room, n, label);
const deliveredExactlyOnce = (ids: string[], what: string) => expectDeliveredOnce(proxy, ids, offline, [sender, online], what);

beforeAll(async () => {
  writeFileSync(join(dir, 'receiver.mjs'), readmeReceiver());
  const port = await freePort();
  exampleUrl = `http://127.0.0.1:${port}/`;
  example = spawn(process.execPath, [join(dir, 'receiver.mjs')], {
    env: { ...process.env, NOTIFY_WEBHOOK_SECRET: SECRET, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  example.stdout!.on('data', (d: Buffer) => printed.push(...d.toString().split('\n').filter(Boolean)));
  await waitFor(async () => (await fetch(exampleUrl, { method: 'POST' })).status === 401, 10_000, 'the README receiver listening');

  proxy = await WebhookReceiver.start(SECRET);
  proxy.answer = (r) => forward(r);
  server = await embedded();
  api = new Api(server.baseUrl);
  const users = await api.users(4, 'emb-hook');
  [sender, online] = users as [Account, Account];
  offline = users.slice(2);
  room = await api.group(sender, [online, ...offline]);
  await connectOnline();
}, 120_000);

/** The member with a live session: connected, and shown ONLINE (presence is recorded just after CONNECTED). */
async function connectOnline(): Promise<void> {
  const ws = await WsStomp.connect(server.wsUrl, online.token);
  closers.push(() => ws.close());
  await waitFor(async () => (await api.memberStatus(sender, room, online.id))?.status === 'ONLINE', 10_000, 'the connected member shown ONLINE');
}

afterAll(async () => {
  for (const c of closers) await c().catch(() => {});
  await server?.stop().catch(() => server.kill());
  await proxy?.close();
  example?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('offline notifications by webhook (embedded), received by the README example', () => {
  it('the README receiver accepts real deliveries and refuses forged, tampered, unsigned and replayed ones', async () => {
    const ids = await send(3, 'hello');
    await deliveredExactlyOnce(ids, 'real deliveries');
    for (const u of offline) {
      const d = [...proxy.accepted().values()].find((r) => r.body.userId === u.id)!;
      expect(printed).toContain(`notify user ${u.id}: ${d.body.count} new in room ${room}: ${d.body.messages.at(-1)!.content}`);
    }
    const lines = printed.length;
    const real = [...proxy.accepted().values()][0]!;
    expect(await forward(real)).toBe(204); // the same delivery again: acknowledged, not acted on twice
    expect(printed).toHaveLength(lines);
    const tampered = { ...real, raw: real.raw.replace('hello', 'HELLO') };
    expect(await forward(tampered)).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    expect(await forward(real, { 'x-chat-signature': signature('a-forger-guessing-the-key', real.raw, now) })).toBe(401);
    expect(await forward(real, { 'x-chat-signature': undefined })).toBe(401);
    expect(await forward(real, { 'x-chat-signature': signature(SECRET, real.raw, now - 600), 'x-chat-delivery': 'replayed-later' })).toBe(401);
    // the control: the same request signed now under a new id is accepted, so the refusals above were the checks'
    expect(await forward(real, { 'x-chat-signature': signature(SECRET, real.raw, now), 'x-chat-delivery': 'signed-now' })).toBe(204);
    expect(printed).toHaveLength(lines + 1);
  });

  it('a 500 storm, then a SIGKILL mid-delivery and a restart on the same data folder: every message once', async () => {
    let storm = 4;
    let held: string | null = null;
    const killed = server;
    proxy.answer = (r) => {
      if (r.body.roomId !== room) return forward(r);
      if (storm > 0) {
        storm--;
        return 500;
      }
      held ??= r.deliveryId;
      return r.deliveryId === held && killed.proc.exitCode === null && killed.proc.signalCode === null ? 'hang' : forward(r);
    };
    const before = await send(3, 'storm');
    await waitFor(() => held !== null, 30_000, 'a POST held open after the storm');
    await killed.kill();
    server = await embedded();
    api = new Api(server.baseUrl);
    await connectOnline(); // its session ended with the killed process
    const after = await send(2, 'after the restart');
    await deliveredExactlyOnce([...before, ...after], 'across the storm and the SIGKILL');
    expect(proxy.received.filter((r) => r.status === 500).length).toBe(4);
    const unanswered = proxy.received.find((r) => r.deliveryId === held && r.status === null); // the killed server's
    expect(unanswered).toBeDefined();
    expect(proxy.accepted().get(held!)?.raw).toBe(unanswered!.raw); // the restarted one sent the same delivery
  }, 120_000);
});
