// Read receipts from what is on screen: the messages at least half visible (IntersectionObserver), and a
// SEND /app/rooms.<id>.read with the newest of them while the page is visible, a burst coalesced into one.
import { readTarget } from './timeline.js';

const COALESCE_MS = 150;

export class ReadMarker {
  /** @param {{ conn: () => import('./connection.js').Connection | null, roomId: () => string | null }} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {Set<string>} seqs on screen */
    this.visible = new Set();
    /** The read position we sent last (or the server had for us). */
    this.readSent = 0n;
    this.timer = 0;
  }

  /** @param {IntersectionObserverEntry[]} entries */
  onIntersect(entries) {
    for (const e of entries) {
      const seq = /** @type {HTMLElement} */ (e.target).dataset.seq;
      if (!seq) continue;
      const shown = e.isIntersecting && (e.intersectionRatio >= 0.5 || (e.rootBounds && e.intersectionRect.height >= e.rootBounds.height / 2));
      if (shown) this.visible.add(seq);
      else this.visible.delete(seq);
    }
    this.maybeMarkRead();
  }

  /** SEND /app/rooms.<id>.read with the newest message on screen, while the page is visible. */
  maybeMarkRead() {
    if (document.visibilityState !== 'visible' || !this.deps.roomId() || this.visible.size === 0) return;
    const top = readTarget(this.visible, this.readSent);
    if (top === null) return;
    clearTimeout(this.timer);
    // Coalesce a burst (a page of history scrolling by) into one SEND.
    this.timer = setTimeout(() => {
      const conn = this.deps.conn();
      const roomId = this.deps.roomId();
      if (!conn || !conn.connected || !roomId || top <= this.readSent) return;
      try {
        conn.publish({
          destination: `/app/rooms.${roomId}.read`,
          body: JSON.stringify({ seq: top.toString() }),
          headers: { 'content-type': 'application/json' },
        });
        this.readSent = top;
      } catch {
        // re-marked on reconnect (attach)
      }
    }, COALESCE_MS);
  }

  clear() {
    this.visible.clear();
    this.readSent = 0n;
    clearTimeout(this.timer);
  }
}
