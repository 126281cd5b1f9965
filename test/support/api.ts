// A small REST client for tests and benches.
import { randomUUID } from 'node:crypto';

export interface Account {
  id: string;
  email: string;
  token: string;
}

export interface Answer<T = any> {
  status: number;
  body: T;
}

export class Api {
  constructor(readonly baseUrl: string) {}

  async call<T = any>(method: string, path: string, token?: string, body?: unknown, raw?: string | Buffer): Promise<Answer<T>> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: (raw ?? (body === undefined ? undefined : JSON.stringify(body))) as BodyInit | undefined,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: res.status, body: parsed as T };
  }

  async signup(prefix = 'user'): Promise<Account> {
    const email = `${prefix}-${randomUUID()}@test.local`;
    const r = await this.call('POST', '/api/auth/signup', undefined, { email, password: 'correct horse battery', nickname: prefix });
    if (r.status !== 201) throw new Error(`signup failed: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.user.id, email, token: r.body.accessToken };
  }

  async pair(prefix = 'user'): Promise<[Account, Account]> {
    return (await this.users(2, prefix)) as [Account, Account];
  }

  async users(n: number, prefix = 'user'): Promise<Account[]> {
    const out: Account[] = [];
    // scrypt is deliberately slow: a few at a time.
    for (let i = 0; i < n; i += 8) out.push(...(await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => this.signup(prefix)))));
    return out;
  }

  /** A member's entry in the room detail as `viewer` sees it (presence: `status`, `lastSeenAt`), or undefined. */
  async memberStatus(viewer: { token: string }, roomId: string, userId: string): Promise<{ status: string; lastSeenAt: string | null } | undefined> {
    const r = await this.call('GET', `/api/rooms/${roomId}`, viewer.token);
    return (r.body.members as Array<{ userId: string; status: string; lastSeenAt: string | null }>).find((m) => m.userId === userId);
  }

  async group(owner: Account, members: Account[], name = `room-${randomUUID().slice(0, 8)}`): Promise<string> {
    const r = await this.call('POST', '/api/rooms', owner.token, { type: 'GROUP', name, memberIds: members.map((m) => m.id) });
    if (r.status !== 201) throw new Error(`create room failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id;
  }

  async send(user: Account, roomId: string, content: string, idempotencyKey?: string): Promise<Answer> {
    return this.call('POST', `/api/rooms/${roomId}/messages`, user.token, { content, ...(idempotencyKey ? { idempotencyKey } : {}) });
  }

  /** Every stored message of a room via afterSeq paging, oldest first. */
  async allMessages(user: Account, roomId: string): Promise<any[]> {
    const out: any[] = [];
    let after = '0';
    for (;;) {
      const r = await this.call('GET', `/api/rooms/${roomId}/messages?afterSeq=${after}&limit=100`, user.token);
      if (r.status !== 200) throw new Error(`history failed: ${r.status} ${JSON.stringify(r.body)}`);
      out.push(...r.body.messages);
      if (!r.body.hasMore || r.body.messages.length === 0) return out;
      after = r.body.messages[r.body.messages.length - 1].seq;
    }
  }
}
