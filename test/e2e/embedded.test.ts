// The embedded mode (what `npm start` runs with no configuration) keeps the claims: per-room order equal to history
// for many concurrent senders, exact unread counts under concurrent reads, resume without gap or duplicate; the same
// clear errors as cluster mode; nothing acknowledged lost across a SIGKILL and restart; and `npm start` itself
// stops gracefully on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../support/api.js';
import { ROOT, freePort, startServer, waitFor, withDeadline, type ServerProc } from '../support/cluster.js';
import { RawConn, uid } from '../support/raw.js';
import { WsStomp, type Received } from '../support/stomp.js';

const dataDirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'chat-embedded-'));
  dataDirs.push(d);
  return d;
}

function embedded(dir: string): Promise<ServerProc> {
  return startServer({ env: { MODE: 'embedded', DATA_DIR: dir } });
}

describe('embedded mode', () => {
  let server: ServerProc;
  let api: Api;
  let dir: string;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    dir = dataDir();
    server = await embedded(dir);
    api = new Api(server.baseUrl);
  });

  afterAll(async () => {
    for (const c of closers) await c().catch(() => {});
    await server?.stop().catch(() => server.kill());
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });

  it('is the embedded mode, ready with no outside service', async () => {
    const ready = await api.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.checks).sort()).toEqual(['consumers', 'message log', 'pglite']);
  });

  it('ordering: 20 concurrent senders x 10 pipelined SENDs; two receivers see one order, equal to history', async () => {
    const owner = await api.signup('emb-order');
    const senders = await api.users(20, 'emb-sender');
    const room = await api.group(owner, senders);
    const receivers = await Promise.all([WsStomp.connect(server.wsUrl, owner.token), WsStomp.connect(server.wsUrl, senders[0]!.token)]);
    closers.push(...receivers.map((r) => () => r.close()));
    const got: Received[][] = [[], []];
    await Promise.all(receivers.map((r, i) => r.subscribe(`/topic/rooms.${room}`, (m) => got[i]!.push(m))));
    const conns = await Promise.all(senders.map((s) => WsStomp.connect(server.wsUrl, s.token)));
    closers.push(...conns.map((c) => () => c.close()));
    await Promise.all(conns.map((c, i) => Promise.all(Array.from({ length: 10 }, (_, k) => c.send(`/topic/rooms.${room}`, `s${i}-${k}`)))));
    await waitFor(() => got.every((g) => g.length >= 200), 60_000, 'all 200 at both receivers');
    const history = await api.allMessages(owner, room);
    expect(history).toHaveLength(200);
    const ids = history.map((m: { id: string }) => m.id);
    for (const g of got) expect(g.map((m) => m.headers['message-id'])).toEqual(ids);
    const seqs = history.map((m: { seq: string }) => BigInt(m.seq));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    // Per-sender FIFO: each sender's messages in the order it sent them.
    for (let i = 0; i < 20; i++) {
      const mine = history.filter((m: { content: string }) => m.content.startsWith(`s${i}-`)).map((m: { content: string }) => m.content);
      expect(mine).toEqual(Array.from({ length: 10 }, (_, k) => `s${i}-${k}`));
    }
  });

  it('read receipts: 10 members reading concurrently, every per-message and per-member count exact', async () => {
    const owner = await api.signup('emb-reads');
    const members = await api.users(10, 'emb-reader');
    const room = await api.group(owner, members);
    const sent = [];
    for (let i = 0; i < 20; i++) sent.push((await api.send(owner, room, `m${i}`)).body.message);
    await waitFor(async () => (await api.allMessages(owner, room)).length === 20, 20_000, 'stored');
    const s10 = sent[9].seq;
    const s20 = sent[19].seq;
    const answers = await Promise.all(members.map((m, i) => api.call('POST', `/api/rooms/${room}/read`, m.token, { seq: i < 5 ? s10 : s20 })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.map((a) => a.body.unreadCount)).toEqual([...Array(5).fill(10), ...Array(5).fill(0)]);
    const history = await api.allMessages(owner, room);
    expect(history.map((m: { unreadCount: number }) => m.unreadCount)).toEqual([...Array(10).fill(0), ...Array(10).fill(5)]);
    const list = await api.call('GET', '/api/rooms', members[0]!.token);
    expect(list.body.rooms.find((r: { id: string }) => r.id === room).unreadCount).toBe(10);
  });

  it('resume: messages sent while a client was away arrive once each, in order, after since-seq', async () => {
    const [a, b] = await api.pair('emb-resume');
    const room = await api.group(a, [b]);
    const first = await WsStomp.connect(server.wsUrl, b.token);
    const seen: Received[] = [];
    await first.subscribe(`/topic/rooms.${room}`, (m) => seen.push(m));
    for (let i = 0; i < 5; i++) await api.send(a, room, `before ${i}`);
    await waitFor(() => seen.length === 5, 20_000, 'live messages');
    await first.close();
    for (let i = 0; i < 30; i++) await api.send(a, room, `away ${i}`);
    // A send is answered once the log has it; the replay reads the store. Wait until all 35 are stored, so the
    // replay holds all 30 (before that, the last ones may come live instead: correct, but not what this counts).
    await waitFor(async () => (await api.allMessages(a, room)).length === 35, 20_000, 'stored');
    const again = await WsStomp.connect(server.wsUrl, b.token);
    closers.push(() => again.close());
    const resumed: Received[] = [];
    const receipt = await again.subscribe(`/topic/rooms.${room}`, (m) => resumed.push(m), { 'since-seq': seen[4]!.headers.seq! });
    expect(receipt['replayed-count']).toBe('30');
    await api.send(a, room, 'live again');
    await waitFor(() => resumed.length === 31, 20_000, 'replay and live');
    expect(resumed.map((m) => m.body.content)).toEqual([...Array.from({ length: 30 }, (_, i) => `away ${i}`), 'live again']);
  });

  it('bad input gets the same clear errors as in cluster mode', async () => {
    const [a, b] = await api.pair('emb-bad');
    const room = await api.group(a, [b]);
    const bad = await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 'x'.repeat(5000) });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid-request', field: 'content' });
    expect((await api.call('POST', `/api/rooms/0${room}/messages`, a.token, { content: 'x' })).status).toBe(400);
    const c = await RawConn.tcp(server.tcpPort);
    closers.push(async () => c.destroy());
    await c.connect(a.token);
    const receipt = uid();
    c.send('SEND', { destination: `/topic/rooms.${room}`, receipt }, 'y'.repeat(5000));
    const err = await c.next((f) => f.command === 'ERROR', 10_000, 'ERROR');
    expect(err.headers.message).toBe('invalid-message');
    expect(err.headers['receipt-id']).toBe(receipt);
    expect(err.headers['content-type']).toBe('text/plain;charset=utf-8');
  });
});

describe('embedded mode across a SIGKILL', () => {
  it('every acknowledged message is in the history after a restart; none twice', async () => {
    const dir = dataDir();
    let server = await embedded(dir);
    const api = new Api(server.baseUrl);
    const [a, b] = await api.pair('emb-kill');
    const room = await api.group(a, [b]);
    const ws = await WsStomp.connect(server.wsUrl, a.token);
    const acked: string[] = [];
    let sending = true;
    const loop = (async () => {
      for (let i = 0; sending && i < 5000; i++) {
        try {
          const r = await ws.send(`/topic/rooms.${room}`, `k${i}`);
          acked.push(r['message-id']!);
        } catch {
          return;
        }
      }
    })();
    await waitFor(() => acked.length >= 150, 30_000, '150 acknowledged');
    await server.kill();
    sending = false;
    await loop;
    await ws.close().catch(() => {});
    server = await embedded(dir);
    try {
      const after = new Api(server.baseUrl);
      // The persist group catches up from its committed offset after the restart.
      const history = await waitFor(
        async () => {
          const all = await after.allMessages(a, room);
          return all.length >= acked.length ? all : null;
        },
        60_000,
        'every acknowledged message stored after the restart',
      );
      const ids = history.map((m: { id: string }) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of acked) expect(ids).toContain(id);
    } finally {
      await server.stop().catch(() => server.kill());
    }
  });
});

describe('npm start', () => {
  it('SIGTERM to the process `npm start` started shuts the server down gracefully and frees its ports', async () => {
    const port = await freePort();
    const dir = dataDir();
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, MODE: 'embedded', PORT: String(port), STOMP_TCP_PORT: '0', DATA_DIR: dir, NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => out.includes('chat server started'), 120_000, `npm start ready (output: ${out.slice(-500)})`);
    expect(out).toContain('embedded mode');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    const code = await withDeadline(exited, 30_000, 'npm start exit after SIGTERM');
    expect(code).toBe(0);
    expect(out).toContain('"msg":"stopped"');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
