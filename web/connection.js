// The STOMP connection (global StompJs from /vendor/stompjs/): one session at a time, our own reconnect loop
// (backoff with jitter, immediate retry when the browser comes back online), and the state shown to the user.
// Each attempt uses a fresh StompJs.Client with stompjs's own reconnect off, so the app decides what a new
// session re-subscribes (and with which since-seq) in onConnect.

/** @typedef {'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed'} ConnState */

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

export class Connection {
  /**
   * @param {{
   *   url: string, token: string,
   *   onConnect: (conn: Connection) => void,
   *   onState: (state: ConnState, detail: string) => void,
   *   onError: (frame: { headers: Record<string, string>, body: string }) => void,
   *   onAuthFailed: () => void,
   * }} opts
   */
  constructor(opts) {
    this.opts = opts;
    /** @type {any} */
    this.client = null;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = false;
    /** @type {ConnState} */
    this.state = 'closed';
    this.onOnline = () => this.retryNow();
    this.onOffline = () => {
      // The socket may linger half-open for a heart-beat period: drop it now so the state is honest.
      if (this.client) this.client.forceDisconnect();
      this.setState('offline', 'Offline: waiting for the network');
    };
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
  }

  get connected() {
    return !!this.client && this.client.connected;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    const c = this.client;
    this.client = null;
    if (c) void c.deactivate();
    this.setState('closed', '');
  }

  /** Closes the socket without a DISCONNECT (as a network failure would); the loop reconnects. */
  drop() {
    if (this.client) this.client.forceDisconnect();
  }

  retryNow() {
    if (this.stopped || this.client) return;
    clearTimeout(this.timer);
    this.open();
  }

  publish(params) {
    if (!this.connected) throw new Error('not connected');
    this.client.publish(params);
  }

  subscribe(destination, callback, headers = {}) {
    if (!this.connected) throw new Error('not connected');
    return this.client.subscribe(destination, callback, headers);
  }

  watchForReceipt(id, callback) {
    if (this.connected) this.client.watchForReceipt(id, callback);
  }

  setState(state, detail) {
    this.state = state;
    this.opts.onState(state, detail);
  }

  open() {
    if (this.stopped) return;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting', this.attempt === 0 ? 'Connecting…' : 'Reconnecting…');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const client = new StompJs.Client({
      brokerURL: this.opts.url ?? `${scheme}//${location.host}/ws`,
      connectHeaders: { Authorization: `Bearer ${this.opts.token}` },
      reconnectDelay: 0, // our loop below decides
      heartbeatIncoming: 10_000,
      heartbeatOutgoing: 10_000,
      connectionTimeout: 10_000,
      debug: () => {},
    });
    this.client = client;
    let authFailed = false;
    client.onConnect = () => {
      if (this.client !== client) return;
      this.attempt = 0;
      this.setState('connected', 'Connected');
      this.opts.onConnect(this);
    };
    client.onStompError = (frame) => {
      if (frame.headers.message === 'unauthorized') authFailed = true;
      this.opts.onError(frame);
    };
    client.onWebSocketClose = () => {
      if (this.client !== client) return;
      this.client = null;
      if (authFailed) {
        this.stop();
        this.opts.onAuthFailed();
        return;
      }
      this.scheduleReconnect();
    };
    client.activate();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.attempt++;
    if (!navigator.onLine) {
      // The 'online' event reconnects at once; a slow poll covers browsers whose onLine is wrong.
      this.setState('offline', 'Offline: waiting for the network');
      this.timer = setTimeout(() => this.open(), MAX_DELAY_MS);
      return;
    }
    const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(this.attempt - 1, 6));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.setState('reconnecting', `Connection lost: reconnecting in ${Math.max(1, Math.round(delay / 1000))} s`);
    this.timer = setTimeout(() => this.open(), delay);
  }
}
