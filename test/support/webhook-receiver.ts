// A real HTTP receiver for webhook tests (node:http): records every request with its raw body and whether its
// signature verifies, answers as the test says (a status, or hang without answering), and can go down (port
// closed: connection refused) and come back on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { verifySignature } from '../../src/notifications/signature.js';
import type { Account, Api } from './api.js';
import { waitFor } from './cluster.js';

export interface Received {
  deliveryId: string;
  signature: string | undefined;
  contentType: string | undefined;
  /** Every request header, as received. */
  headers: Record<string, string>;
  raw: string;
  body: {
    id: string;
    type: string;
    userId: string;
    roomId: string;
    count: number;
    messages: Array<{ id: string; seq: string; roomId: string; senderId: string; content: string }>;
  };
  verified: boolean;
  /** The status answered; null while (or when) the request was left hanging. */
  status: number | null;
}

/** How to answer one request: a status, or 'hang' (never answer; the sender's timeout must cut it). */
export type Answer = number | 'hang';

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** May be async (e.g. forwarding the request to another receiver and answering with its status). */
  answer: (r: Received) => Answer | Promise<Answer> = () => 204;
  private server: Server;
  private readonly hung: ServerResponse[] = [];

  private constructor(
    readonly secret: string,
    private readonly port: number,
  ) {
    this.server = this.make();
  }

  static async start(secret: string): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(secret, 0);
    await r.listen(0);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo | null)?.port ?? this.boundPort}/hooks/chat`;
  }

  private boundPort = 0;

  /** Requests answered 2xx, one entry per delivery id (receivers dedupe on it), in arrival order. */
  accepted(): Map<string, Received> {
    const out = new Map<string, Received>();
    for (const r of this.received) if (r.status !== null && r.status >= 200 && r.status < 300 && !out.has(r.deliveryId)) out.set(r.deliveryId, r);
    return out;
  }

  /** Message ids of accepted deliveries, as often as they appear across distinct deliveries. */
  acceptedMessageIds(userId?: string): string[] {
    return [...this.accepted().values()].filter((r) => userId === undefined || r.body.userId === userId).flatMap((r) => r.body.messages.map((m) => m.id));
  }

  forUser(userId: string): Received[] {
    return this.received.filter((r) => r.body.userId === userId);
  }

  /** Closes the port (connection refused from now on) and drops open connections. */
  async down(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.hung.length = 0;
  }

  async up(): Promise<void> {
    this.server = this.make();
    await this.listen(this.boundPort);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port || this.port, '127.0.0.1', () => resolve());
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
  }

  private make(): Server {
    return createServer((req, res) => void this.handle(req, res));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const signature = req.headers['x-chat-signature'] as string | undefined;
    let body: Received['body'];
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const r: Received = {
      deliveryId: String(req.headers['x-chat-delivery']),
      signature,
      contentType: req.headers['content-type'],
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      raw,
      body,
      verified: verifySignature(signature, this.secret, raw, Date.now()),
      status: null,
    };
    this.received.push(r);
    const answer = await this.answer(r);
    if (answer === 'hang') {
      this.hung.push(res);
      return;
    }
    r.status = answer;
    res.writeHead(answer).end();
  }
}

/** A server's NOTIFY_WEBHOOK_* for tests: fast window, timeout and retries. */
export function webhookTestEnv(url: string, secret: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NOTIFY_WEBHOOK_URL: url,
    NOTIFY_WEBHOOK_SECRET: secret,
    NOTIFY_WEBHOOK_WINDOW_MS: '200',
    NOTIFY_WEBHOOK_TIMEOUT_MS: '1000',
    NOTIFY_WEBHOOK_BACKOFF_MS: '100',
    NOTIFY_WEBHOOK_BACKOFF_MAX_MS: '400',
    ...extra,
  };
}

/** Sends `n` messages over REST, one after the other; returns their ids. */
export async function sendMessages(api: Api, sender: Account, roomId: string, n: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await api.send(sender, roomId, `${label} ${i}`);
    expect(r.status).toBe(202);
    ids.push(r.body.message.id);
  }
  return ids;
}

/**
 * Waits until each of `offline` has accepted every one of `ids` exactly once (by message id, across deliveries;
 * a delivery id accepted twice counts once, as a receiver that dedupes sees it), checks that none of `others` got
 * any POST and that every POST's signature verified.
 */
export async function expectDeliveredOnce(receiver: WebhookReceiver, ids: string[], offline: Account[], others: Account[], what: string): Promise<void> {
  const mine = (u: Account) =>
    receiver
      .acceptedMessageIds(u.id)
      .filter((id) => ids.includes(id))
      .sort();
  const seen = () => JSON.stringify(receiver.received.map((r) => [r.body.userId, r.deliveryId.slice(0, 8), r.status, r.body.messages.map((m) => m.content)]));
  // Generous: on a shared database, every run's notify group writes the same notification rows, and one held open
  // by another run stalls ours (rest-api.test.ts's notifications test waits as long).
  await waitFor(
    () => offline.every((u) => mine(u).length >= ids.length),
    60_000,
    () => `${what}: ${offline.map((u) => mine(u).length).join('/')} of ${ids.length}; received ${seen()}`,
  );
  for (const u of offline) expect(mine(u), `${what}: member ${u.id}`).toEqual([...ids].sort());
  for (const u of others) expect(receiver.forUser(u.id), `${what}: ${u.id} sent them or has a live session`).toEqual([]);
  for (const r of receiver.received) expect(r.verified, `signature of ${r.deliveryId}`).toBe(true);
}
