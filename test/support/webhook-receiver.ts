// A real HTTP receiver for webhook tests (node:http): records every request with its raw body and whether its
// signature verifies, answers as the test says (a status, or hang without answering), and can go down (port
// closed: connection refused) and come back on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../src/notifications/signature.js';

export interface Received {
  deliveryId: string;
  signature: string | undefined;
  contentType: string | undefined;
  /** Every request header, as received. */
  headers: Record<string, string>;
  raw: string;
  body: { id: string; type: string; userId: string; roomId: string; count: number; messages: Array<{ id: string; seq: string; roomId: string; senderId: string; content: string }> };
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
