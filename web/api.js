// REST client for /api: JSON in and out, the bearer token, and API.md's error shape as ApiError.

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {string} [field] */
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export class Api {
  /** @param {() => string | null} getToken @param {() => void} onUnauthorized called on any 401 with a token */
  constructor(getToken, onUnauthorized) {
    this.getToken = getToken;
    this.onUnauthorized = onUnauthorized;
  }

  async call(method, path, body) {
    const token = this.getToken();
    /** @type {Record<string, string>} */
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: fall through to the generic error below
    }
    if (res.ok) return data;
    const err = data && data.error ? data.error : { code: 'http-' + res.status, message: `Request failed (${res.status})` };
    if (res.status === 401 && token) this.onUnauthorized();
    throw new ApiError(res.status, err.code, err.message, err.field);
  }

  signup(email, password, nickname) {
    return this.call('POST', '/api/auth/signup', { email, password, nickname });
  }
  login(email, password) {
    return this.call('POST', '/api/auth/login', { email, password });
  }
  me() {
    return this.call('GET', '/api/users/me');
  }
  searchUsers(q) {
    return this.call('GET', `/api/users?q=${encodeURIComponent(q)}`);
  }
  block(userId) {
    return this.call('POST', `/api/users/${encodeURIComponent(userId)}/block`);
  }
  unblock(userId) {
    return this.call('DELETE', `/api/users/${encodeURIComponent(userId)}/block`);
  }
  blocked() {
    return this.call('GET', '/api/users/blocked');
  }
  rooms() {
    return this.call('GET', '/api/rooms');
  }
  room(id) {
    return this.call('GET', `/api/rooms/${encodeURIComponent(id)}`);
  }
  createDirect(peerUserId) {
    return this.call('POST', '/api/rooms', { type: 'DIRECT', peerUserId });
  }
  createGroup(name, memberIds) {
    return this.call('POST', '/api/rooms', { type: 'GROUP', name, memberIds });
  }
  /** Newest first; `before` is the previous answer's nextCursor. */
  history(id, before, limit = 50) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set('before', before);
    return this.call('GET', `/api/rooms/${encodeURIComponent(id)}/messages?${q}`);
  }
}
