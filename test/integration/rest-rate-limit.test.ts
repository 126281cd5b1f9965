// Rate limits on REST: the per-user token bucket (shared with STOMP SENDs on the instance) answers 429
// `rate-limited` once it is empty, and nothing over the limit is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';

describe('REST rate limits', () => {
  let server: ServerProc;
  let api: Api;

  beforeAll(async () => {
    server = await startServer({ env: { RATE_USER_PER_SEC: '1', RATE_USER_BURST: '3' } });
    api = new Api(server.baseUrl);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('a burst over the per-user bucket gets 429 rate-limited and is not stored', async () => {
    const [a, b] = await api.pair('rate');
    const roomId = await api.group(a, [b]);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await api.send(a, roomId, `burst ${i}`));
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 429, 429]);
    expect(answers[3]!.body.error.code).toBe('rate-limited');
    // Another user has their own bucket.
    expect((await api.send(b, roomId, 'other user')).status).toBe(202);
    const stored = await waitFor(
      async () => {
        const all = await api.allMessages(a, roomId);
        return all.length >= 4 ? all : null;
      },
      20_000,
      'stored',
    );
    expect(stored.map((m: { content: string }) => m.content).sort()).toEqual(['burst 0', 'burst 1', 'burst 2', 'other user']);
    // The bucket refills: one token per second.
    await waitFor(async () => (await api.send(a, roomId, 'after refill')).status === 202, 5000, 'refill', 300);
  });
});
