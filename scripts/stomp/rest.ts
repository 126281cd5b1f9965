// The CLI's REST calls (log in, rooms, history, member names), errors as one readable line.

export class Rest {
  constructor(readonly base: string) {}

  async call<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new Error(`cannot reach ${this.base}: ${(err as Error).cause ? String((err as Error).cause) : (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
      throw new Error(`${method} ${path}: HTTP ${res.status}${e?.code ? ` ${e.code}` : ''}${e?.message ? `: ${e.message}` : ''}`);
    }
    return parsed as T;
  }

  /** userId -> nickname for a room's members; empty when the room cannot be read (best effort). */
  async names(roomId: string, token: string): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    try {
      const room = await this.call<{ members?: Array<{ userId: string; nickname: string }> }>('GET', `/api/rooms/${encodeURIComponent(roomId)}`, token);
      for (const m of room.members ?? []) map.set(m.userId, m.nickname);
    } catch {
      // names are a nicety: fall back to ids
    }
    return map;
  }
}

/** The REST origin of --url (a ws:// or wss:// URL maps to http:// or https://). */
export function restBase(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  return u.origin;
}
