// The operations console's failed webhook deliveries over REST (embedded mode, one real server, a real receiver):
// a receiver that refuses (401) makes a delivery fail at once; it shows in GET /api/ops/webhook-deliveries and in
// the overview's counts; a retry from the console sends it again under the same delivery id once the receiver
// accepts; discard removes one for good. Administrators only; bad input is a 400 naming the field.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Account } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { WebhookReceiver, sendMessages, webhookTestEnv } from '../support/webhook-receiver.js';

const SECRET = 'ops-webhook-secret-0123456';

describe('GET/POST /api/ops/webhook-deliveries', () => {
  let receiver: WebhookReceiver;
  let server: ServerProc;
  let api: Api;
  let admin: Account;
  let sender: Account;
  let offline: Account[];
  let room: string;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
    receiver.answer = () => 401; // a 4xx other than 408/429: the delivery fails at once
    const adminEmail = `ops-hooks-${Date.now()}@test.local`;
    server = await startServer({
      env: { MODE: 'embedded', DATA_DIR: mkdtempSync(join(tmpdir(), 'chat-ops-hooks-')), ADMIN_EMAILS: adminEmail, ...webhookTestEnv(receiver.url, SECRET) },
    });
    api = new Api(server.baseUrl);
    const r = await api.call('POST', '/api/auth/signup', undefined, { email: adminEmail, password: 'correct horse battery', nickname: 'ops' });
    admin = { id: r.body.user.id, email: adminEmail, token: r.body.accessToken };
    const users = await api.users(3, 'ops-hook');
    sender = users[0]!;
    offline = users.slice(1);
    room = await api.group(sender, offline);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  const list = async () =>
    (await api.call('GET', '/api/ops/webhook-deliveries?limit=50', admin.token)).body as {
      records: Array<{ id: string; userId: string; roomId: string; count: number; attempts: number; lastStatus: number | null }>;
      next: string | null;
      pending: number;
    };

  it('administrators only: 401 without a token, 403 for anyone else', async () => {
    expect((await api.call('GET', '/api/ops/webhook-deliveries')).status).toBe(401);
    expect((await api.call('GET', '/api/ops/webhook-deliveries', sender.token)).status).toBe(403);
    expect((await api.call('POST', '/api/ops/webhook-deliveries/retry', sender.token, { records: [{ id: crypto.randomUUID() }] })).status).toBe(403);
    expect((await api.call('POST', '/api/ops/webhook-deliveries/discard', sender.token, { records: [{ id: crypto.randomUUID() }] })).status).toBe(403);
  });

  it('a refused delivery is listed and counted; a retry sends it again under the same id; discard removes one for good', async () => {
    await sendMessages(api, sender, room, 1, 'refused');
    const failed = await waitFor(
      async () => {
        const page = await list();
        const mine = page.records.filter((d) => d.roomId === room);
        return mine.length === offline.length ? { page, mine } : null;
      },
      60_000,
      'one failed delivery per offline member',
    );
    expect(failed.page.pending).toBe(failed.page.records.length);
    expect(failed.mine.map((d) => d.userId).sort()).toEqual(offline.map((u) => u.id).sort());
    for (const d of failed.mine) expect(d).toMatchObject({ count: 1, attempts: 1, lastStatus: 401 });
    const overview = (await api.call('GET', '/api/ops/overview', admin.token)).body as { counts: Record<string, number> };
    await waitFor(
      async () => ((await api.call('GET', '/api/ops/overview', admin.token)).body.counts.failedDeliveries ?? -1) >= failed.mine.length,
      20_000,
      'the overview counting them',
    );
    expect(overview.counts).toHaveProperty('deadLetters');

    receiver.answer = () => 204;
    const [retryMe, discardMe] = failed.mine;
    const retried = await api.call('POST', '/api/ops/webhook-deliveries/retry', admin.token, { records: [{ id: retryMe!.id }] });
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ retried: [retryMe!.id], notFound: [] });
    await waitFor(() => receiver.accepted().has(retryMe!.id), 30_000, 'the retried delivery accepted under its id');
    expect(receiver.accepted().get(retryMe!.id)!.body.userId).toBe(retryMe!.userId);

    const discarded = await api.call('POST', '/api/ops/webhook-deliveries/discard', admin.token, { records: [{ id: discardMe!.id }, { id: retryMe!.id }] });
    expect(discarded.body).toEqual({ discarded: [discardMe!.id], notFound: [retryMe!.id] }); // the retried one is no longer failed
    expect((await list()).records.filter((d) => d.roomId === room)).toEqual([]);
    expect(receiver.accepted().has(discardMe!.id)).toBe(false);
  });

  it('bad input: 400 naming the field', async () => {
    const bad = await api.call('POST', '/api/ops/webhook-deliveries/retry', admin.token, { records: [{ id: 'not-a-uuid' }] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/records/);
    const empty = await api.call('POST', '/api/ops/webhook-deliveries/discard', admin.token, { records: [] });
    expect(empty.status).toBe(400);
    const tooMany = await api.call('POST', '/api/ops/webhook-deliveries/retry', admin.token, {
      records: Array.from({ length: 501 }, () => ({ id: crypto.randomUUID() })),
    });
    expect(tooMany.status).toBe(400);
    expect((await api.call('GET', '/api/ops/webhook-deliveries?limit=0', admin.token)).status).toBe(400);
  });
});
