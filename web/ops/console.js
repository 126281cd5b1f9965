// The operations console (#/ops): administrators only — the nav entry shows when GET /api/users/me says admin, and
// the server answers 403 to anyone else. Live over the chat client's own STOMP connection: /topic/ops pushes the
// overview of every instance once per interval; REST gives the charts' history and the dead letters.
import { $, h } from '../dom.js';
import { Chart, keysOf, loadUplot } from './charts.js';
import { PANELS } from './panels.js';

const ROUTE = '#/ops';

const fmt = (n, digits = 1) => (n === null || n === undefined ? '–' : Number(n).toFixed(digits));
const mb = (bytes) => `${Math.round(bytes / (1024 * 1024))} MB`;

export class OpsConsole {
  /**
   * @param {{ api: any, conn: () => any }} deps  api: web/api.js; conn: the current STOMP connection (or null)
   */
  constructor(deps) {
    this.deps = deps;
    this.admin = false;
    this.sub = null;
    this.points = [];
    this.intervalMs = 1000;
    this.historySeconds = 300;
    this.uPlot = null;
    this.charts = [];
    this.panels = [];
    this.built = false;
    window.addEventListener('hashchange', () => this.route());
    window.addEventListener('resize', () => this.charts.forEach((c) => c.resize()));
  }

  /** A user signed in: learn whether they are an administrator, then show what they may see. */
  async start(user) {
    this.admin = typeof user.admin === 'boolean' ? user.admin : Boolean((await this.deps.api.me().catch(() => ({}))).admin);
    $('ops-link').hidden = !this.admin;
    this.route();
  }

  stop() {
    this.admin = false;
    this.unsubscribe();
    $('ops-link').hidden = true;
    $('ops-view').hidden = true;
  }

  get open() {
    return this.admin && location.hash === ROUTE;
  }

  /** Each (re)connect of the chat client's session: subscribe again while the console is open. */
  attach(conn) {
    this.sub = null;
    if (this.open) this.subscribe(conn);
  }

  route() {
    const open = this.open;
    if (location.hash === ROUTE && !this.admin) history.replaceState(null, '', '#');
    $('ops-view').hidden = !open;
    $('chat-view').hidden = open || !this.deps.conn();
    $('ops-link').setAttribute('aria-current', open ? 'page' : 'false');
    $('ops-link').textContent = open ? 'Back to chat' : 'Operations';
    $('ops-link').setAttribute('href', open ? '#' : ROUTE);
    if (!open) return this.unsubscribe();
    void this.show();
  }

  async show() {
    if (!this.built) this.build();
    try {
      this.uPlot ??= await loadUplot();
      const [history, overview] = await Promise.all([this.deps.api.call('GET', '/api/ops/history'), this.deps.api.call('GET', '/api/ops/overview')]);
      this.points = history.points;
      this.render(overview, false);
    } catch (err) {
      $('ops-status').textContent = `The console could not load: ${err.message}`;
    }
    const conn = this.deps.conn();
    if (conn?.connected && !this.sub) this.subscribe(conn);
  }

  subscribe(conn) {
    try {
      this.sub = conn.subscribe('/topic/ops', (frame) => {
        let overview;
        try {
          overview = JSON.parse(frame.body);
        } catch {
          return;
        }
        $('ops-view').dataset.live = 'true';
        this.render(overview, true);
      });
    } catch {
      this.sub = null; // not connected: attach() subscribes on the next connect
    }
  }

  unsubscribe() {
    try {
      this.sub?.unsubscribe();
    } catch {
      // the connection is gone already
    }
    this.sub = null;
    if ($('ops-view')) delete $('ops-view').dataset.live;
  }

  build() {
    this.built = true;
    const view = $('ops-view');
    const chartBox = () => h('div', { class: 'ops-chart' });
    const boxes = [chartBox(), chartBox(), chartBox(), chartBox()];
    this.charts = [
      new Chart(boxes[0], {
        title: 'Messages per second',
        unit: '/s',
        series: (ps) => ({
          labels: ['in (sent)', 'out (delivered)', 'STOMP errors'],
          values: [ps.map((p) => p.messagesIn), ps.map((p) => p.deliveriesOut), ps.map((p) => p.stompErrors)],
        }),
      }),
      new Chart(boxes[1], {
        title: 'SEND → MESSAGE latency',
        unit: 'ms',
        series: (ps) => ({ labels: ['p50', 'p99'], values: [ps.map((p) => p.p50Ms), ps.map((p) => p.p99Ms)] }),
      }),
      new Chart(boxes[2], {
        title: 'Consumer lag (records)',
        unit: 'records',
        series: (ps) => {
          const ks = keysOf(ps, 'lag');
          return { labels: ks, values: ks.map((k) => ps.map((p) => p.lag?.[k] ?? null)) };
        },
      }),
      new Chart(boxes[3], {
        title: 'CPU per instance',
        unit: '% of a core',
        series: (ps) => {
          const ks = keysOf(ps, 'cpu');
          return { labels: ks, values: ks.map((k) => ps.map((p) => (p.cpu?.[k] === undefined ? null : p.cpu[k] * 100))) };
        },
      }),
    ];
    this.panels = PANELS.map((spec) => spec.create(this.deps.api));
    view.replaceChildren(
      h('div', { class: 'ops-head' }, h('h2', { id: 'ops-title' }, 'Operations'), h('p', { id: 'ops-status', class: 'muted', role: 'status' }, 'Loading…')),
      h(
        'section',
        { 'aria-labelledby': 'ops-alerts-title', class: 'ops-panel' },
        h('h3', { id: 'ops-alerts-title' }, 'Alerts'),
        h('ul', { id: 'ops-alerts', class: 'ops-alerts' }),
      ),
      h('dl', { id: 'ops-totals', class: 'ops-totals' }),
      h('div', { class: 'ops-charts' }, ...boxes),
      h(
        'section',
        { 'aria-labelledby': 'ops-instances-title', class: 'ops-panel' },
        h('h3', { id: 'ops-instances-title' }, 'Instances'),
        h(
          'div',
          { class: 'ops-table-wrap' },
          table('ops-instances', [
            'Instance',
            'Roles',
            'Sessions',
            'Connections',
            'Loop lag p99',
            'CPU',
            'Memory (RSS / heap)',
            'In /s',
            'Out /s',
            'Errors /s',
            'p50 / p99',
            'Groups',
          ]),
        ),
      ),
      h(
        'section',
        { 'aria-labelledby': 'ops-groups-title', class: 'ops-panel' },
        h('h3', { id: 'ops-groups-title' }, 'Consumer groups'),
        h('div', { class: 'ops-table-wrap' }, table('ops-groups', ['Group', 'Topic', 'Lag', 'Ready', 'Members', 'Lag per partition'])),
      ),
      ...this.panels.map((p) => p.el),
    );
  }

  render(o, live) {
    if (!this.built) return;
    this.intervalMs = o.intervalMs;
    if (live) {
      this.points.push(o.point);
      const keep = Math.ceil((this.historySeconds * 1000) / this.intervalMs);
      if (this.points.length > keep) this.points.splice(0, this.points.length - keep);
    }
    $('ops-status').textContent =
      `${o.instances.length} instance(s) · served by ${o.servedBy} · ${new Date(o.at).toLocaleTimeString()}${live ? ' · live' : ''}`;
    this.renderAlerts(o.alerts);
    $('ops-totals').replaceChildren(
      ...[
        ['messagesIn', 'Messages in /s', fmt(o.totals.messagesIn)],
        ['deliveriesOut', 'Deliveries out /s', fmt(o.totals.deliveriesOut)],
        ['stompErrors', 'STOMP errors /s', fmt(o.totals.stompErrors)],
        ['latency', 'Latency p50 / p99', `${fmt(o.latencyMs.p50)} / ${fmt(o.latencyMs.p99)} ms`],
        ['sessions', 'Sessions', String(o.totals.sessions)],
        ['deadLetters', 'Dead letters pending', o.deadLetters === null ? '?' : String(o.deadLetters)],
      ].map(([key, label, value]) => h('div', { dataset: { total: key } }, h('dt', {}, label), h('dd', {}, value))),
    );
    $('ops-instances').replaceChildren(...o.instances.map(instanceRow));
    $('ops-groups').replaceChildren(...o.groups.map(groupRow));
    if (this.uPlot) for (const c of this.charts) c.update(this.uPlot, this.points);
    for (const p of this.panels) p.onOverview(o);
  }

  renderAlerts(alerts) {
    $('ops-alerts').replaceChildren(
      ...(alerts.length === 0
        ? [h('li', { class: 'muted', dataset: { alert: '' } }, 'No alert holds.')]
        : alerts.map((a) =>
            h(
              'li',
              { class: `ops-alert ${a.state}`, dataset: { alert: a.name, state: a.state } },
              h('strong', {}, a.name),
              ` ${a.state} (${a.severity}) — ${a.summary}`,
              h(
                'span',
                { class: 'muted' },
                ` ${Object.entries(a.labels)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' ')} since ${new Date(a.since).toLocaleTimeString()}, for: ${a.forSeconds} s`,
              ),
            ),
          )),
    );
  }
}

function table(id, headings) {
  return h('table', { class: 'ops-table' }, h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', { id }));
}

function instanceRow(i) {
  const ready = i.groups.filter((g) => g.ready).length;
  return h(
    'tr',
    { dataset: { instanceId: i.id, sessions: String(i.sessions), messagesIn: String(i.rates.messagesIn), deliveriesOut: String(i.rates.deliveriesOut) } },
    h('th', { scope: 'row' }, i.id),
    h('td', {}, i.roles.join(', ')),
    h('td', {}, String(i.sessions)),
    h('td', {}, `${i.connections.total} (ws ${i.connections.ws}, tcp ${i.connections.tcp})`),
    h('td', {}, `${fmt(i.eventLoopLagMs.p99)} ms`),
    h('td', {}, `${fmt(i.cpu * 100, 0)} %`),
    h('td', {}, `${mb(i.memory.rssBytes)} / ${mb(i.memory.heapUsedBytes)}`),
    h('td', {}, fmt(i.rates.messagesIn)),
    h('td', {}, fmt(i.rates.deliveriesOut)),
    h('td', {}, fmt(i.rates.stompErrors)),
    h('td', {}, `${fmt(i.latencyMs.p50)} / ${fmt(i.latencyMs.p99)} ms`),
    h('td', {}, i.groups.length === 0 ? '–' : `${ready}/${i.groups.length} ready`),
  );
}

function groupRow(g) {
  return h(
    'tr',
    { dataset: { groupId: g.groupId, lag: String(g.lag ?? ''), ready: String(g.ready) }, class: g.ready ? '' : 'not-ready' },
    h('th', { scope: 'row' }, g.groupId),
    h('td', {}, g.topic ?? '–'),
    h('td', {}, g.lag === null ? '?' : String(g.lag)),
    h(
      'td',
      {},
      g.ready
        ? 'ready'
        : g.members.length === 0
          ? 'not ready: no consumer running'
          : `not ready: ${g.members.length - g.readyMembers} of ${g.members.length} down`,
    ),
    h('td', {}, g.members.join(', ') || '–'),
    h('td', { class: 'muted' }, g.partitions.map((p) => `${p.partition}:${p.lag}`).join(' ')),
  );
}
