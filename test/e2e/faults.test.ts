// Infrastructure and instance faults under steady traffic, injected for real: the Kafka broker,
// Redis and PostgreSQL restarted; an app instance SIGKILLed; an app instance SIGTERMed. Clients
// behave like a good chat app (retry under the same idempotency key, resume with since-seq).
// After each fault: every acknowledged message is stored exactly once and delivered to every
// receiver exactly once, in seq order, and traffic resumed without restarting the app.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Account } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { restartKafka, restartPostgres, restartRedis } from '../support/infra.js';
import { ResilientReceiver, ResilientSender } from '../support/resilient.js';

const PER_SENDER = 150;

interface Outcome {
  acked: number;
  stored: number;
  delivered: number[];
  duplicates: number;
  retries: number;
  recoveryMs: number;
}

describe('faults under traffic', () => {
  let servers: ServerProc[] = [];
  const live = () => servers.filter((s) => s.proc.exitCode === null && s.proc.signalCode === null);
  const wsUrls = () => live().map((s) => s.wsUrl);

  beforeAll(async () => {
    servers = await Promise.all([startServer(), startServer()]);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop().catch(() => s.kill())));
  });

  /** Two senders and two receivers (one of each per instance); `fault` runs once traffic flows. */
  async function scenario(name: string, fault: () => Promise<void>): Promise<Outcome> {
    const api = new Api(live()[0]!.baseUrl);
    const owner = (await api.users(1, name))[0]!;
    const users: Account[] = await api.users(2, name);
    const roomId = await api.group(owner, users);
    const receivers = [0, 1].map((i) => new ResilientReceiver(() => rotate(wsUrls(), i), owner.token, roomId));
    await Promise.all(receivers.map((r) => r.start()));
    const senders = users.map((u, i) => new ResilientSender(() => rotate(wsUrls(), i), u.token, roomId, `${name}-${i}`));
    const running = senders.map((s) => s.run(PER_SENDER, 10));

    await waitFor(() => senders.every((s) => s.acked.length >= 30), 60_000, 'traffic flowing');
    const faultAt = Date.now();
    const ackedBefore = senders.reduce((n, s) => n + s.acked.length, 0);
    await fault();
    await waitFor(() => senders.reduce((n, s) => n + s.acked.length, 0) > ackedBefore + 2, 120_000, 'traffic resumed', 50);
    const recoveryMs = Date.now() - faultAt;
    await Promise.all(running);

    const acked = senders.flatMap((s) => s.acked);
    const expectedKeys = senders.flatMap((_, i) => Array.from({ length: PER_SENDER }, (_, k) => `${name}-${i}-${k}`));
    expect(acked.map((a) => a.key).sort()).toEqual([...expectedKeys].sort());

    // Stored exactly once, with the acknowledged id and seq.
    const viewer = new Api(live()[0]!.baseUrl);
    const stored = await waitFor(
      async () => {
        const all = await viewer.allMessages(owner, roomId);
        return all.length >= acked.length ? all : null;
      },
      60_000,
      'all acknowledged messages stored',
      250,
    );
    expect(stored.length).toBe(acked.length);
    expect(new Set(stored.map((m: { content: string }) => m.content)).size).toBe(acked.length);
    const byId = new Map(stored.map((m: { id: string; seq: string }) => [m.id, m.seq]));
    for (const a of acked) expect(byId.get(a.id), a.key).toBe(a.seq);

    // Delivered exactly once to every receiver, in seq order.
    const storedIds = stored.map((m: { id: string }) => m.id);
    await waitFor(() => receivers.every((r) => new Set(r.ids).size >= storedIds.length), 60_000, 'all delivered', 100);
    let duplicates = 0;
    for (const r of receivers) {
      duplicates += r.ids.length - new Set(r.ids).size;
      expect(r.ids).toEqual(storedIds);
      for (let i = 1; i < r.seqs.length; i++) expect(r.seqs[i]! > r.seqs[i - 1]!).toBe(true);
    }
    await Promise.all([...receivers.map((r) => r.close()), ...senders.map((s) => s.close())]);
    const outcome: Outcome = {
      acked: acked.length,
      stored: stored.length,
      delivered: receivers.map((r) => new Set(r.ids).size),
      duplicates,
      retries: acked.filter((a) => a.attempts > 1).length,
      recoveryMs,
    };
    console.log(`[fault] ${name}: ${JSON.stringify(outcome)} receiver reconnects ${receivers.map((r) => r.reconnects).join('/')}`);
    return outcome;
  }

  it('Kafka broker restart', async () => {
    const o = await scenario('kafka-restart', async () => {
      await restartKafka();
    });
    expect(o.duplicates).toBe(0);
  }, 300_000);

  it('Redis restart', async () => {
    const o = await scenario('redis-restart', async () => {
      await restartRedis();
    });
    expect(o.duplicates).toBe(0);
  }, 300_000);

  it('PostgreSQL restart', async () => {
    const o = await scenario('postgres-restart', async () => {
      await restartPostgres();
    });
    expect(o.duplicates).toBe(0);
  }, 300_000);

  it('an app instance killed with SIGKILL', async () => {
    servers.push(await startServer());
    const victim = servers[0]!;
    const o = await scenario('instance-sigkill', async () => {
      await victim.kill();
    });
    expect(o.duplicates).toBe(0);
  }, 300_000);

  it('an app instance stopped with SIGTERM (graceful)', async () => {
    servers.push(await startServer());
    const victim = live()[0]!;
    const o = await scenario('instance-sigterm', async () => {
      expect(await victim.stop()).toBe(0);
    });
    expect(o.duplicates).toBe(0);
  }, 300_000);
});

function rotate<T>(list: T[], by: number): T[] {
  if (list.length === 0) return list;
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
