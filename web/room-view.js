// The open room: history (paged upward on scroll), live messages by seq with no gap or duplicate across
// reconnects (since-seq), own messages from "sending" to "sent", typing, presence, and read receipts (we mark
// what is on screen as read; every message shows how many other members have not read it yet). The ordering and
// read bookkeeping live in timeline.js (no DOM); the member list and typing in room-people.js; read receipts from
// what is on screen in read-marker.js. This class draws the messages and talks to the server.
import { $, big } from './dom.js';
import { messageElement, pendingElement, renderPendingStatus, renderUnread } from './message-elements.js';
import { ReadMarker } from './read-marker.js';
import { RoomPeople } from './room-people.js';
import { Timeline, mergeMembers, readMoved, unreadOf } from './timeline.js';

const PAGE = 50;
const TYPING_SEND_MS = 1000; // the server relays at most one typing event per second per connection and room

/** @typedef {import('./timeline.js').Message} Message @typedef {import('./timeline.js').Member} Member */

export class RoomView {
  /**
   * @param {{
   *   api: import('./api.js').Api,
   *   outbox: import('./outbox.js').Outbox,
   *   me: () => { id: string, nickname: string },
   *   conn: () => import('./connection.js').Connection | null,
   *   nicknames: Map<string, string>,
   *   onMessage: (m: Message) => void,
   *   onDetail: (room: any) => void,
   *   onClosed: (roomId: string, why: string) => void,
   * }} deps
   */
  constructor(deps) {
    this.deps = deps;
    this.gen = 0;
    this.roomId = null;
    this.room = null;
    /** @type {Map<string, Member>} */
    this.members = new Map();
    /** @type {Timeline<HTMLElement>} the messages shown, by seq; record.view is the message's element */
    this.timeline = new Timeline();
    this.nextCursor = null;
    this.loadingOlder = false;
    this.subs = [];
    this.subCounter = 0;
    /** @type {Map<string, HTMLElement>} outbox key -> element */
    this.pendingEls = new Map();
    this.lastTypingSent = 0;

    this.el = {
      placeholder: $('room-placeholder'),
      body: $('room-body'),
      title: $('room-title'),
      sub: $('room-sub'),
      members: $('member-list'),
      scroller: $('scroller'),
      list: $('messages'),
      older: /** @type {HTMLButtonElement} */ ($('load-older')),
      start: $('history-start'),
      jump: $('jump-latest'),
      typing: $('typing'),
      form: /** @type {HTMLFormElement} */ ($('composer')),
      input: /** @type {HTMLTextAreaElement} */ ($('composer-input')),
      error: $('composer-error'),
      announcer: $('announcer'),
    };
    this.people = new RoomPeople({ members: this.el.members, sub: this.el.sub, typing: this.el.typing }, { me: () => this.me, nick: (id) => this.nick(id) });
    this.reads = new ReadMarker({ conn: () => this.deps.conn(), roomId: () => this.roomId });
    this.observer = new IntersectionObserver((entries) => this.reads.onIntersect(entries), { root: this.el.scroller, threshold: [0, 0.5, 1] });

    this.el.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.el.older.addEventListener('click', () => void this.loadOlder());
    this.el.jump.addEventListener('click', () => {
      this.scrollToBottom();
      this.el.input.focus();
    });
    this.el.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.el.form.requestSubmit();
      }
    });
    this.el.input.addEventListener('input', () => {
      this.autosize();
      if (this.el.input.value.trim()) this.sendTyping();
    });
    document.addEventListener('visibilitychange', () => this.reads.maybeMarkRead());
  }

  get me() {
    return this.deps.me();
  }

  // --- opening and closing ------------------------------------------------------------------

  /** Shows a room: history first, then the live subscriptions (from the newest seq shown). */
  async open(room) {
    this.close();
    const gen = ++this.gen;
    this.roomId = room.id;
    this.room = room;
    this.el.placeholder.hidden = true;
    this.el.body.hidden = false;
    this.el.body.dataset.roomId = room.id;
    this.el.title.textContent = room.displayName ?? room.name;
    this.el.sub.textContent = '';
    this.el.error.textContent = '';
    this.el.body.dataset.loaded = 'false';
    const [page, detail] = await Promise.all([this.deps.api.history(room.id, null, PAGE), this.deps.api.room(room.id).catch(() => null)]);
    if (gen !== this.gen) return;
    if (detail) this.applyDetail(detail);
    this.addHistory(page.messages, page.nextCursor ?? null);
    for (const entry of this.deps.outbox.pendingFor(room.id)) this.showPending(entry);
    this.scrollToBottom();
    this.historyLoaded = true;
    const conn = this.deps.conn();
    if (conn && conn.connected) this.attach(conn);
    this.el.body.dataset.loaded = 'true';
    // A short history does not fill the view (no scroll event would ever page): fetch older pages now.
    while (this.nextCursor && this.el.scroller.scrollHeight <= this.el.scroller.clientHeight && gen === this.gen) {
      await this.loadOlder();
    }
  }

  close() {
    this.gen++;
    this.detach();
    this.historyLoaded = false;
    this.roomId = null;
    this.room = null;
    this.members.clear();
    this.timeline.clear();
    this.nextCursor = null;
    this.pendingEls.clear();
    this.people.clear();
    this.reads.clear();
    this.observer.disconnect();
    this.el.list.replaceChildren();
    this.el.older.hidden = true;
    this.el.start.hidden = true;
    this.el.jump.hidden = true;
    this.el.body.hidden = true;
    this.el.placeholder.hidden = false;
    delete this.el.body.dataset.roomId;
    delete this.el.body.dataset.synced;
    delete this.el.body.dataset.replayed;
  }

  /**
   * On every (re)connect: room events first (so no read position moves unseen between them and the detail
   * below), then the messages from the newest seq shown (the server replays what we missed, oldest first).
   */
  attach(conn) {
    // Before the first page of history is in, streamSeq is not known yet: open() attaches when it is.
    if (!this.roomId || !this.historyLoaded) return;
    const roomId = this.roomId;
    const gen = this.gen;
    this.detach();
    this.subsOwner = conn.client;
    const tag = `sub-${roomId}-${++this.subCounter}`;
    try {
      this.subs.push(conn.subscribe(`/topic/rooms.${roomId}.events`, (f) => this.onEvent(f), { receipt: `${tag}-events` }));
      this.subs.push(
        conn.subscribe(`/topic/rooms.${roomId}`, (f) => this.onMessageFrame(f), {
          'since-seq': this.timeline.streamSeq.toString(),
          receipt: `${tag}-messages`,
        }),
      );
    } catch {
      return; // closed meanwhile: the next onConnect attaches again
    }
    conn.watchForReceipt(`${tag}-messages`, (f) => {
      // The server's RECEIPT for a since-seq SUBSCRIBE comes after the replay (README: replayed-count, replay-end-seq).
      if (gen !== this.gen) return;
      this.el.body.dataset.synced = f.headers['replay-end-seq'] ?? this.timeline.streamSeq.toString();
      this.el.body.dataset.replayed = f.headers['replayed-count'] ?? '0';
    });
    void this.refreshDetail().then(() => {
      if (gen !== this.gen) return;
      this.reads.readSent = big(this.members.get(this.me.id)?.lastReadSeq);
      this.reads.maybeMarkRead();
    });
  }

  detach() {
    const conn = this.deps.conn();
    // Subscriptions of a session that has closed went with it: UNSUBSCRIBE only on the live one.
    if (conn && conn.connected && conn.client === this.subsOwner) {
      for (const s of this.subs) {
        try {
          s.unsubscribe();
        } catch {
          // closed meanwhile
        }
      }
    }
    this.subs = [];
    this.subsOwner = null;
  }

  /** An ERROR answering one of our SUBSCRIBEs (e.g. forbidden: no longer a member). */
  onSubscribeError(frame) {
    const rid = frame.headers['receipt-id'] ?? '';
    if (!this.roomId || !rid.startsWith(`sub-${this.roomId}-`)) return false;
    const roomId = this.roomId;
    this.close();
    this.deps.onClosed(roomId, frame.headers.message === 'forbidden' ? 'You are not a member of this room.' : 'This room cannot be opened.');
    return true;
  }

  async refreshDetail() {
    const roomId = this.roomId;
    const gen = this.gen;
    let detail;
    try {
      detail = await this.deps.api.room(roomId);
    } catch {
      return;
    }
    if (gen !== this.gen) return;
    this.applyDetail(detail);
  }

  applyDetail(detail) {
    for (const m of detail.members) this.deps.nicknames.set(m.userId, m.nickname);
    // Read positions only move forward: never let an older answer undo a newer event.
    this.members = mergeMembers(this.members, detail.members);
    this.room = { ...this.room, ...detail };
    this.deps.onDetail(detail);
    this.el.title.textContent = this.displayName();
    this.people.renderMembers(this.members, this.room);
    this.renderAllStatuses();
    for (const rec of this.timeline.records()) {
      if (rec.m.senderId !== this.me.id) rec.view.querySelector('.sender').textContent = this.nick(rec.m.senderId);
    }
  }

  displayName() {
    if (this.room?.type === 'DIRECT') {
      const peer = [...this.members.values()].find((m) => m.userId !== this.me.id);
      if (peer) return peer.nickname;
    }
    return this.room?.displayName ?? this.room?.name ?? '';
  }

  // --- messages -----------------------------------------------------------------------------

  addHistory(messages, nextCursor) {
    this.nextCursor = nextCursor;
    // Newest first from the server: insert oldest first.
    for (let i = messages.length - 1; i >= 0; i--) this.insert(messages[i], true);
    this.el.older.hidden = !this.nextCursor;
    this.el.start.hidden = !!this.nextCursor;
  }

  async loadOlder() {
    if (!this.nextCursor || this.loadingOlder || !this.roomId) return;
    this.loadingOlder = true;
    const gen = this.gen;
    this.el.older.disabled = true;
    try {
      const page = await this.deps.api.history(this.roomId, this.nextCursor, PAGE);
      if (gen !== this.gen) return;
      const s = this.el.scroller;
      const fromBottom = s.scrollHeight - s.scrollTop;
      this.addHistory(page.messages, page.nextCursor ?? null);
      s.scrollTop = s.scrollHeight - fromBottom; // keep what the reader was looking at in place
      this.el.list.dataset.pages = String(Number(this.el.list.dataset.pages ?? '1') + 1);
    } catch (err) {
      this.el.error.textContent = `Older messages could not be loaded: ${err.message}`;
    } finally {
      this.el.older.disabled = false;
      this.loadingOlder = false;
    }
  }

  onMessageFrame(frame) {
    let m;
    try {
      m = JSON.parse(frame.body);
    } catch {
      return;
    }
    if (m.roomId !== this.roomId) return;
    if (m.senderId === this.me.id && !this.timeline.has(m.seq)) {
      const entry = this.deps.outbox.matchEcho(m);
      if (entry) this.removePending(entry.key);
    }
    const wasNearBottom = this.nearBottom();
    const isNew = this.insert(m, true);
    if (!isNew) return;
    this.people.stopTyping(m.senderId);
    this.deps.onMessage(m);
    if (m.senderId !== this.me.id) {
      this.el.announcer.textContent = `${this.nick(m.senderId)}: ${m.content}`;
    }
    if (wasNearBottom || m.senderId === this.me.id) this.scrollToBottom();
    else this.el.jump.hidden = false;
  }

  /** A send acknowledged (or failed) by the server: the pending bubble becomes the message at its seq. */
  onOutboxChange(entry) {
    if (entry.roomId !== this.roomId) return;
    if (entry.state === 'failed') {
      const el = this.pendingEls.get(entry.key);
      if (el) this.renderPending(el, entry);
      return;
    }
    this.removePending(entry.key);
    if (entry.seq && !this.timeline.has(entry.seq)) {
      const m = {
        id: entry.messageId ?? '',
        roomId: entry.roomId,
        seq: entry.seq,
        senderId: this.me.id,
        type: 'TEXT',
        content: entry.content,
        createdAt: entry.createdAt,
        unreadCount: Math.max(0, this.members.size - 1),
      };
      // Not from the ordered stream: it must not move streamSeq (an earlier message may still be on its way).
      this.insert(m, false);
      this.deps.onMessage(m);
      this.scrollToBottom();
    }
  }

  /**
   * Puts a message at its place by seq; a seq already shown is updated, never shown twice.
   * @returns {boolean} whether it was new
   */
  insert(m, fromStream) {
    const { record, index, isNew } = this.timeline.insert(m, fromStream, (msg) => this.renderMessage(msg));
    if (isNew) {
      this.el.list.insertBefore(record.view, this.timeline.at(index + 1)?.view ?? this.firstPendingEl());
      // A message right after one from the same sender (within 5 minutes) shows no name/time line again.
      for (const i of [index, index + 1]) {
        const cont = this.timeline.continues(i);
        if (cont !== null) this.timeline.at(i).view.classList.toggle('cont', cont);
      }
      this.observer.observe(record.view);
      this.el.list.dataset.count = String(this.timeline.size);
    }
    this.renderStatus(record);
    return isNew;
  }

  firstPendingEl() {
    for (const el of this.pendingEls.values()) return el;
    return null;
  }

  renderMessage(m) {
    const mine = m.senderId === this.me.id;
    return messageElement(m, mine, mine ? 'You' : this.nick(m.senderId));
  }

  renderStatus(rec) {
    renderUnread(rec.view, unreadOf(rec.m, this.members), rec.m.senderId === this.me.id, this.room?.type === 'DIRECT');
  }

  renderAllStatuses() {
    for (const rec of this.timeline.records()) this.renderStatus(rec);
  }

  // --- sending ------------------------------------------------------------------------------

  showPending(entry) {
    const el = pendingElement(entry);
    this.renderPending(el, entry);
    this.pendingEls.set(entry.key, el);
    this.el.list.append(el);
  }

  renderPending(el, entry) {
    const conn = this.deps.conn();
    renderPendingStatus(el, entry, Boolean(conn && conn.connected), () => {
      this.deps.outbox.discard(entry);
      this.removePending(entry.key);
    });
  }

  removePending(key) {
    const el = this.pendingEls.get(key);
    if (el) el.remove();
    this.pendingEls.delete(key);
  }

  /** The composer's text goes to the outbox (sent now, or on reconnect under the same idempotency key). */
  send(content) {
    if (!this.roomId) return;
    const entry = this.deps.outbox.add(this.roomId, content);
    if (entry.state === 'sending') this.showPending(entry);
    this.scrollToBottom();
  }

  /** Pending bubbles show whether they wait for the connection. */
  onConnectionState() {
    for (const entry of this.deps.outbox.pendingFor(this.roomId ?? '')) {
      const el = this.pendingEls.get(entry.key);
      if (el) this.renderPending(el, entry);
    }
  }

  sendTyping() {
    const now = Date.now();
    const conn = this.deps.conn();
    if (!this.roomId || !conn || !conn.connected || now - this.lastTypingSent < TYPING_SEND_MS) return;
    this.lastTypingSent = now;
    try {
      conn.publish({ destination: `/topic/rooms.${this.roomId}.events`, body: '' });
    } catch {
      // typing is ephemeral
    }
  }

  // --- room events ----------------------------------------------------------------------------

  onEvent(frame) {
    let body;
    try {
      body = JSON.parse(frame.body);
    } catch {
      return;
    }
    switch (frame.headers['event-type']) {
      case 'read': {
        const moved = readMoved(this.members, body.userId, body.lastReadSeq);
        if (moved) for (const rec of this.timeline.between(...moved)) this.renderStatus(rec);
        break;
      }
      case 'typing':
        if (body.userId !== this.me.id) this.people.startTyping(body.userId);
        break;
      case 'presence': {
        const mem = this.members.get(body.userId);
        if (mem) {
          mem.status = body.status;
          mem.lastSeenAt = body.lastSeenAt ?? mem.lastSeenAt;
          this.people.renderMembers(this.members, this.room);
        }
        break;
      }
      case 'member-joined':
      case 'member-left':
        void this.refreshDetail();
        break;
    }
  }

  nick(userId) {
    return this.deps.nicknames.get(userId) ?? this.members.get(userId)?.nickname ?? `user ${userId}`;
  }

  // --- reading ------------------------------------------------------------------------------

  /** Everything received in this room has been marked read by us. */
  allRead() {
    return this.historyLoaded && this.timeline.streamSeq > 0n && this.reads.readSent >= this.timeline.streamSeq;
  }

  // --- scrolling ----------------------------------------------------------------------------

  nearBottom() {
    const s = this.el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 60;
  }

  scrollToBottom() {
    const s = this.el.scroller;
    s.scrollTop = s.scrollHeight;
    this.el.jump.hidden = true;
  }

  onScroll() {
    if (this.el.scroller.scrollTop < 120) void this.loadOlder();
    if (this.nearBottom()) this.el.jump.hidden = true;
  }

  autosize() {
    const t = this.el.input;
    t.style.height = 'auto';
    t.style.height = `${Math.min(t.scrollHeight + 2, 160)}px`;
  }
}
