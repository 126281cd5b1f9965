// A panel of records an operator acts on: a paged table with a checkbox per row and actions per row and for the
// selection, fed by a list endpoint of /api/ops/ and refreshed when the overview's count for it changes: the dead
// letters, and the webhook deliveries that were given up (web/ops/panels.js).
import { h } from '../dom.js';

/**
 * @typedef {object} TableSpec
 * @property {string} id
 * @property {string} title
 * @property {string} countKey the overview's `counts` entry with the pending count
 * @property {string} listPath GET, answers { records, next, pending }
 * @property {(r: any) => string} keyOf stable row key
 * @property {(r: any) => object} refOf what the action endpoints take for a record
 * @property {Array<{ title: string, cell: (r: any) => string | Node }>} columns
 * @property {Array<{ label: string, path: string, verb: string }>} actions POST { records: [ref] }
 * @property {(r: any) => string} describe a row's name for screen readers
 * @property {boolean} [handledToggle] false: no "show handled" switch (nothing handled is kept)
 */

export class RecordTable {
  /** @param {TableSpec} spec @param {{ call: (method: string, path: string, body?: any) => Promise<any> }} api */
  constructor(spec, api) {
    this.spec = spec;
    this.api = api;
    this.records = [];
    this.selected = new Set();
    this.next = null;
    this.includeAll = false;
    this.lastCount = undefined;
    this.busy = false;
    this.status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
    this.count = h('span', { class: 'ops-count', id: `${spec.id}-pending` }, '–');
    this.body = h('tbody');
    const toggle = h('input', { type: 'checkbox', id: `${spec.id}-all`, onchange: (e) => this.showAll(e.target.checked) });
    this.more = h('button', { type: 'button', class: 'button secondary small', hidden: true, onclick: () => void this.load(true) }, 'Load older');
    this.selectionButtons = spec.actions.map((a) =>
      h(
        'button',
        { type: 'button', class: 'button secondary small', disabled: true, onclick: () => void this.act(a, [...this.selected]) },
        `${a.label} selected`,
      ),
    );
    this.el = h(
      'section',
      { class: 'ops-panel', id: spec.id, 'aria-labelledby': `${spec.id}-title` },
      h(
        'div',
        { class: 'ops-panel-head' },
        h('h3', { id: `${spec.id}-title` }, spec.title, ' ', h('span', { class: 'muted' }, '('), this.count, h('span', { class: 'muted' }, ' pending)')),
        spec.handledToggle === false ? null : h('label', { class: 'ops-toggle' }, toggle, ' show handled'),
        ...this.selectionButtons,
      ),
      h(
        'div',
        { class: 'ops-table-wrap' },
        h(
          'table',
          { class: 'ops-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, h('span', { class: 'sr-only' }, 'Select')),
              ...spec.columns.map((c) => h('th', { scope: 'col' }, c.title)),
              h('th', {}, 'Actions'),
            ),
          ),
          this.body,
        ),
      ),
      this.more,
      this.status,
    );
  }

  /** The overview arrived: reload when the pending count moved. */
  onOverview(overview) {
    const count = overview.counts?.[this.spec.countKey];
    this.count.textContent = count === null || count === undefined ? '?' : String(count);
    this.el.dataset.pending = String(count ?? '');
    if (count !== this.lastCount) {
      this.lastCount = count;
      void this.load(false);
    }
  }

  showAll(on) {
    this.includeAll = on;
    void this.load(false);
  }

  async load(more) {
    const q = new URLSearchParams({ limit: '50', include: this.includeAll ? 'all' : 'pending' });
    if (more && this.next) q.set('before', this.next);
    try {
      const page = await this.api.call('GET', `${this.spec.listPath}?${q}`);
      this.records = more ? [...this.records, ...page.records] : page.records;
      this.next = page.next;
      const keys = new Set(this.records.map(this.spec.keyOf));
      for (const k of [...this.selected]) if (!keys.has(k)) this.selected.delete(k);
      this.render();
    } catch (err) {
      this.status.textContent = `Could not load: ${err.message}`;
    }
  }

  render() {
    const { spec } = this;
    this.body.replaceChildren(
      ...(this.records.length === 0
        ? [h('tr', {}, h('td', { colspan: String(spec.columns.length + 2), class: 'muted' }, this.includeAll ? 'Nothing here.' : 'Nothing pending.'))]
        : this.records.map((r) => {
            const key = spec.keyOf(r);
            return h(
              'tr',
              { dataset: { key, handled: r.handled ? r.handled.action : '' } },
              h(
                'td',
                {},
                h('input', {
                  type: 'checkbox',
                  'aria-label': `Select ${spec.describe(r)}`,
                  checked: this.selected.has(key),
                  onchange: (e) => {
                    if (e.target.checked) this.selected.add(key);
                    else this.selected.delete(key);
                    this.renderSelection();
                  },
                }),
              ),
              ...spec.columns.map((c) => h('td', {}, c.cell(r))),
              h(
                'td',
                { class: 'ops-actions' },
                ...spec.actions.map((a) =>
                  h(
                    'button',
                    { type: 'button', class: 'button secondary small', 'aria-label': `${a.label} ${spec.describe(r)}`, onclick: () => void this.act(a, [key]) },
                    a.label,
                  ),
                ),
              ),
            );
          })),
    );
    this.more.hidden = !this.next;
    this.el.dataset.rows = String(this.records.length);
    this.renderSelection();
  }

  renderSelection() {
    for (const b of this.selectionButtons) b.disabled = this.busy || this.selected.size === 0;
  }

  async act(action, keys) {
    const refs = this.records.filter((r) => keys.includes(this.spec.keyOf(r))).map(this.spec.refOf);
    if (refs.length === 0) return;
    this.busy = true;
    this.renderSelection();
    this.status.textContent = `${action.verb}…`;
    try {
      const res = await this.api.call('POST', action.path, { records: refs });
      this.status.textContent = summary(action, res);
      for (const k of keys) this.selected.delete(k);
      await this.load(false);
    } catch (err) {
      this.status.textContent = `${action.label} failed: ${err.message}`;
    } finally {
      this.busy = false;
      this.renderSelection();
    }
  }
}

function summary(action, res) {
  const parts = Object.entries(res)
    .filter(([, v]) => Array.isArray(v) && v.length > 0)
    .map(([k, v]) => `${v.length} ${k.replace(/([A-Z])/g, ' $1').toLowerCase()}`);
  return `${action.label}: ${parts.join(', ') || 'nothing to do'}.`;
}
