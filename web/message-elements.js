// The elements of the message list: a message, a pending send of ours, and their status lines (unread counts, or
// sending / waiting / failed with a Dismiss button). Built from data only; RoomView decides where they go.
import { clockTime, h } from './dom.js';

/** @typedef {import('./timeline.js').Message} Message */

/** A message of the list; `sender` is the name shown ('You' for our own). */
export function messageElement(/** @type {Message} */ m, /** @type {boolean} */ mine, /** @type {string} */ sender) {
  return h(
    'li',
    { class: `msg${mine ? ' mine' : ''}`, dataset: { seq: m.seq, sender: m.senderId, state: 'sent' } },
    h('div', { class: 'meta' }, h('span', { class: 'sender' }, sender), h('time', { datetime: m.createdAt }, clockTime(m.createdAt))),
    h('div', { class: 'bubble' }, m.content),
    h('div', { class: 'status' }),
  );
}

/**
 * A message's status line: how many other members have not read it (a DIRECT room says just Unread/Read); nothing
 * is redrawn when the count did not change.
 * @param {HTMLElement} el @param {number} n @param {boolean} mine @param {boolean} direct
 */
export function renderUnread(el, n, mine, direct) {
  if (el.dataset.unread === String(n) && el.dataset.rendered === '1') return;
  el.dataset.unread = String(n);
  el.dataset.rendered = '1';
  const status = el.querySelector('.status');
  if (n > 0) status.replaceChildren(h('span', { class: 'unread' }, direct ? 'Unread' : `${n} unread`));
  else if (mine) status.replaceChildren(h('span', { class: 'read' }, direct ? 'Read' : 'Read by all'));
  else status.replaceChildren();
  // Same information for screen readers, without the visual shorthand.
  status.setAttribute('aria-label', n > 0 ? `${n} member${n === 1 ? '' : 's'} not read yet` : 'read by everyone');
}

/** A send of ours not acknowledged yet (an outbox entry). */
export function pendingElement(/** @type {{ key: string, content: string, createdAt: string }} */ entry) {
  return h(
    'li',
    { class: 'msg mine pending', dataset: { key: entry.key, state: 'pending' } },
    h('div', { class: 'meta' }, h('span', { class: 'sender' }, 'You'), h('time', { datetime: entry.createdAt }, clockTime(entry.createdAt))),
    h('div', { class: 'bubble' }, entry.content),
    h('div', { class: 'status' }),
  );
}

/**
 * A pending send's status line: sending, waiting for the connection, or refused with a Dismiss button.
 * @param {HTMLElement} el @param {{ state: string, error?: string }} entry @param {boolean} connected @param {() => void} onDismiss
 */
export function renderPendingStatus(el, entry, connected, onDismiss) {
  const status = el.querySelector('.status');
  if (entry.state === 'failed') {
    el.classList.add('failed');
    el.dataset.state = 'failed';
    status.replaceChildren(
      `Not sent: ${entry.error ?? 'refused'} `,
      h('button', { type: 'button', class: 'button secondary small', onclick: onDismiss }, 'Dismiss'),
    );
  } else {
    status.textContent = connected ? 'Sending…' : 'Waiting for connection…';
  }
}
