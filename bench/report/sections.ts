// The generated sections of PERF_RESULT.md (fan-out, peers, connect storm, idle connections, how to reproduce)
// and their SVG charts, from the latest run of each scenario. Each section sits between markers
// `<!-- bench-report:<name> begin -->` and `<!-- bench-report:<name> end -->` so a later report replaces exactly it;
// hand-written sections (codec, partitioning, reads, resume, profiles) are never touched.
import { targetName } from '../driver/capacity.js';
import { markdownTable } from '../lib.js';
import type { ResultLine } from './results.js';
import { PALETTE, lineChart, stackedBars, type Series } from './svg.js';

/** A chart to write: file name under the charts folder, and its SVG text. */
export interface Chart {
  file: string;
  svg: string;
  alt: string;
}

export interface Section {
  name: string;
  markdown: string;
  charts: Chart[];
}

export type Row = ResultLine & Record<string, any>;

export const f = (v: unknown, digits = 1): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-');
export const n0 = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v).toLocaleString('en') : '-');
const errCount = (e: unknown): number => (e && typeof e === 'object' ? Object.values(e as Record<string, number>).reduce((a, b) => a + b, 0) : 0);

/** "Measured <date> on <machine>, Node <v>, load <x>" for the first line of a run. */
function environmentLine(lines: readonly Row[]): string {
  const l = lines[0]!;
  const loads = lines.map((x) => (typeof x.loadAvg1m === 'number' ? x.loadAvg1m : NaN)).filter(Number.isFinite);
  // Lines of several runs (e.g. the idle bench per transport): each run's command, and the first run's date.
  const commands = [...new Set(lines.map((x) => x.params.command ?? `npm run bench -- ${x.scenario}`))];
  return (
    `Measured ${l.date.replace('T', ' ').slice(0, 16)} UTC on ${l.cpus} × ${l.cpuModel}${l.memGiB ? `, ${l.memGiB} GiB RAM` : ''}, ` +
    `${l.platform}${l.kernel ? ` (Linux ${l.kernel})` : ''}, Node.js ${l.node}; 1-minute load average ${loads.length ? `${f(Math.min(...loads))}–${f(Math.max(...loads))}` : f(l.loadAvg1m)}. ` +
    `${commands.length > 1 ? 'Commands' : 'Command'}: ${commands.map((c) => `\`${c}\``).join(', ')}.`
  );
}

/** A generated section: its heading (naming the scenario's command), the environment line, then `body`. */
export function section(name: string, title: string, lines: readonly Row[], body: string[], charts: Chart[] = []): Section {
  const markdown = [`## ${title} — \`npm run bench -- ${name}\``, '', environmentLine(lines), '', ...body].join('\n');
  return { name, markdown, charts };
}

/** A table with one row per result line, each column given as its header and how a line shows in it. */
function columnsTable(lines: readonly Row[], columns: ReadonlyArray<readonly [string, (r: Row) => string]>): string {
  return markdownTable(
    columns.map(([header]) => header),
    lines.map((r) => columns.map(([, cell]) => cell(r))),
  );
}

export function driverLine(rows: readonly Row[], workers: unknown): string {
  const maxWorker = Math.max(...rows.map((r) => (typeof r.driverMaxWorkerPct === 'number' ? r.driverMaxWorkerPct : 0)));
  const lag = Math.max(...rows.map((r) => (typeof r.sendLagMs?.p99 === 'number' ? r.sendLagMs.p99 : 0)));
  const busy = Math.max(...rows.map((r) => (typeof r.cpu?.machinePct === 'number' ? r.cpu.machinePct : 0)));
  const driverUs = rows.map((r) => r.cpuUsPerDelivery?.driver).filter((v): v is number => typeof v === 'number');
  const range = (xs: number[]) => (Math.min(...xs) === Math.max(...xs) ? f(xs[0]) : `${f(Math.min(...xs))}–${f(Math.max(...xs))}`);
  let verdict: string;
  if (maxWorker > 80) verdict = ' — **a worker was near a full core: the driver may have limited these figures**.';
  else if (lag > 5)
    verdict =
      ` — the workers were idle most of the time, but their timers ran up to ${f(lag, 0)} ms late because the machine was ` +
      `${f(busy, 0)} % busy: those delays are part of the latencies above (open loop), so figures from a quieter machine will be lower.`;
  else verdict = ' (the driver was not the bottleneck).';
  return (
    `Driver: ${workers ?? '?'} worker processes (raw \`ws\` + our codec, open loop, latency from each message's intended send time); ` +
    `busiest worker ≤ ${f(maxWorker, 0)} % of a core, send lag (intended → actual send) p99 ≤ ${f(lag, 2)} ms in every step` +
    (driverUs.length ? `, driver CPU ${range(driverUs)} µs per delivery` : '') +
    verdict
  );
}

export const latencyHeaders = [
  'sent/s',
  'deliveries/s',
  'lost',
  'dup',
  'out of order',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'p99.9 ms',
  'max ms',
  'receipt p99 ms',
  'errors',
];
export function latencyCells(r: Row): string[] {
  return [
    n0(r.sentPerSec),
    n0(r.deliveriesPerSec),
    String(r.lost),
    String(r.duplicates),
    String(r.outOfOrder),
    f(r.latencyMs?.p50),
    f(r.latencyMs?.p90),
    f(r.latencyMs?.p99),
    f(r.latencyMs?.p999),
    f(r.latencyMs?.max),
    f(r.receiptMs?.p99),
    String(errCount(r.errors) + (r.connectFailed ?? 0)),
  ];
}

function groupNames(rows: readonly Row[]): string[] {
  const names: string[] = [];
  for (const r of rows) for (const g of Object.keys(r.cpu?.groups ?? {})) if (!names.includes(g)) names.push(g);
  return names;
}

function cpuTable(rows: readonly Row[], lead: (r: Row) => string[], leadHeaders: string[]): string {
  const groups = groupNames(rows);
  return markdownTable(
    [...leadHeaders, ...groups.map((g) => `${g} µs`), 'all processes µs', 'machine busy %'],
    rows.map((r) => [
      ...lead(r),
      ...groups.map((g) => {
        const c = r.cpu?.groups?.[g];
        return c ? `${f(r.cpuUsPerDelivery?.[g])} (${f(c.pctOfCore, 0)} %)` : '-';
      }),
      f(r.cpuUsPerDelivery?.machine),
      f(r.cpu?.machinePct, 0),
    ]),
  );
}

/** Stacked bars of CPU µs per delivery, one bar per row; the rest of the machine as "other". */
function cpuChart(file: string, title: string, rows: readonly Row[], label: (r: Row) => string): Chart {
  const groups = groupNames(rows);
  const stacks = groups.map((g, i) => ({ name: g, color: PALETTE[i % PALETTE.length]!, values: rows.map((r) => Number(r.cpuUsPerDelivery?.[g] ?? NaN)) }));
  stacks.push({
    name: 'other processes',
    color: '#cccccc',
    values: rows.map((r) => {
      const all = Number(r.cpuUsPerDelivery?.machine ?? NaN);
      const known = groups.reduce((a, g) => a + (Number(r.cpuUsPerDelivery?.[g]) || 0), 0);
      return all - known;
    }),
  });
  return { file, alt: title, svg: stackedBars({ title, yLabel: 'CPU µs per delivered message', categories: rows.map(label), stacks }) };
}

function latencyChart(file: string, title: string, rows: readonly Row[], keyOf: (r: Row) => string): Chart {
  const keys = [...new Set(rows.map(keyOf))];
  const series: Series[] = [];
  keys.forEach((k, i) => {
    const mine = rows.filter((r) => keyOf(r) === k);
    const color = PALETTE[i % PALETTE.length]!;
    series.push({ name: `${k} p99`, color, points: mine.map((r) => [r.rate, r.latencyMs?.p99]) });
    series.push({ name: `${k} p50`, color, dashed: true, points: mine.map((r) => [r.rate, r.latencyMs?.p50]) });
  });
  return { file, alt: title, svg: lineChart({ title, xLabel: 'send rate (messages/s, all rooms)', yLabel: 'latency ms (intended send → delivery)', series }) };
}

export const link = (chartsRel: string, c: Chart) => `![${c.alt}](${chartsRel}/${c.file})`;

/** A warning paragraph when other chat servers shared the consumer groups during the run (not a quiet machine). */
export function foreignLine(lines: readonly Row[]): string[] {
  const ids = (lines[0]!.params as { foreignServers?: string[] }).foreignServers ?? [];
  return ids.length
    ? [
        `**Not a quiet machine:** ${ids.length} other chat server process(es) (${ids.join(', ')}) were members of the Kafka consumer ` +
          `groups during this run: they took partitions, CPU, and any messages they handled with other code may be missing here.`,
        '',
      ]
    : [];
}

export function fanoutSection(lines: readonly Row[], chartsRel: string): Section {
  const p = lines[0]!.params as Record<string, any>;
  const rows = [...lines].sort((a, b) => a.instances - b.instances || a.rate - b.rate);
  const charts = [
    latencyChart(
      'fanout-latency.svg',
      `Fan-out latency vs send rate, rooms of ${p.members}`,
      rows,
      (r) => `${r.instances} instance${r.instances > 1 ? 's' : ''}`,
    ),
    cpuChart('fanout-cpu.svg', 'CPU per delivered message, by process group', rows, (r) => `${r.instances}i\n${r.rate}/s`),
  ];
  const at = (n: number, rate: number) => rows.find((r) => r.instances === n && r.rate === rate);
  const goals: string[][] = [];
  for (const rate of [1000, 2000]) {
    const r = at(1, rate);
    goals.push([
      `1 instance, ${rate.toLocaleString('en')} msgs/s, rooms of ${p.members}: p50 / p99`,
      r
        ? `${f(r.latencyMs?.p50)} / ${f(r.latencyMs?.p99)} ms (${n0(r.deliveriesPerSec)} deliveries/s, ${r.lost} lost)`
        : 'not run (saturated earlier, or not in --rates)',
    ]);
  }
  for (const rate of [...new Set(rows.map((r) => r.rate))]) {
    const one = at(1, rate);
    const two = at(2, rate);
    if (one && two)
      goals.push([
        `2 instances vs 1 at ${rate.toLocaleString('en')} msgs/s: p99 ratio`,
        `${f(two.latencyMs?.p99 / one.latencyMs?.p99, 2)}x (${f(two.latencyMs?.p99)} vs ${f(one.latencyMs?.p99)} ms)`,
      ]);
  }
  for (const r of rows)
    goals.push([
      `app CPU per delivered message, ${r.instances} instance${r.instances > 1 ? 's' : ''} at ${r.rate.toLocaleString('en')} msgs/s`,
      `${f(r.cpuUsPerDelivery?.app)} µs (every process on the machine: ${f(r.cpuUsPerDelivery?.machine)} µs)`,
    ]);
  const totalLost = rows.reduce((a, r) => a + (r.lost ?? 0), 0);
  const totalDup = rows.reduce((a, r) => a + (r.duplicates ?? 0), 0);
  const totalOoo = rows.reduce((a, r) => a + (r.outOfOrder ?? 0), 0);
  const body = [
    `${p.rooms} rooms × ${p.members} members; every member is a WebSocket STOMP subscriber of its room (users spread over the ` +
      `instances), member 0 of each room sends \`SEND /topic/rooms.<id>\` (plain text, ${p.bodyBytes} B${p.receipts ? ', with a receipt' : ''}). ` +
      `All rooms together send at the rate shown, open loop (every message has an intended send time; latency runs from it to the ` +
      `MESSAGE's arrival, so queueing anywhere — even in the driver — is counted). ${p.warmupS} s warm-up, then ${p.durationS} s measured per step. ` +
      `lost / dup / out of order are counted per subscriber over every message of the step (warm-up included), after a drain of up to ${p.drainS} s.`,
    '',
    driverLine(rows, p.workers),
    '',
    ...foreignLine(lines),
    markdownTable(
      ['instances', 'rate msg/s', ...latencyHeaders],
      rows.map((r) => [String(r.instances), n0(r.rate), ...latencyCells(r)]),
    ),
    '',
    link(chartsRel, charts[0]!),
    '',
    `CPU per delivered message over the measured window, µs (share of one core in parentheses), from /proc: app = our instance(s), ` +
      `kafka = the broker JVM, postgres = every PostgreSQL process, redis, driver = the load generator; "all processes" = the whole ` +
      `machine's busy time divided by the deliveries (includes anything else running).`,
    '',
    cpuTable(rows, (r) => [String(r.instances), n0(r.rate)], ['instances', 'rate msg/s']),
    '',
    link(chartsRel, charts[1]!),
    '',
    `Goals of the issue, as measured:`,
    '',
    markdownTable(['goal', 'measured'], goals),
    '',
    `Correctness over every step of this run: **${totalLost} lost, ${totalDup} duplicated, ${totalOoo} out of order**.`,
  ];
  return section('fanout', 'Claims 1 and 2: fan-out, ordering, 1 vs 2 instances', lines, body, charts);
}

/**
 * Topology: every instance runs every role (fanout.jsonl) against gateways that only gateway plus one process
 * running the consumer groups (fanout-split.jsonl), same load, per instance count and rate.
 */
export function topologySection(all: readonly Row[], split: readonly Row[]): Section {
  const key = (r: Row) => `${r.instances}/${r.rate}`;
  const byKey = new Map(all.map((r) => [key(r), r]));
  const pairs = [...split]
    .sort((a, b) => a.instances - b.instances || a.rate - b.rate)
    .flatMap((s) => {
      const a = byKey.get(key(s));
      return a ? [[a, s] as const] : [];
    });
  const oneVsTwo = (rows: readonly Row[], rate: number) => {
    const one = rows.find((r) => r.instances === 1 && r.rate === rate);
    const two = rows.find((r) => r.instances === 2 && r.rate === rate);
    return one && two ? `${f(two.latencyMs?.p99 / one.latencyMs?.p99, 2)}x` : '-';
  };
  const table = markdownTable(
    [
      'instances',
      'rate msg/s',
      'all roles p50 / p99 ms',
      'split p50 / p99 ms',
      'all roles app µs/deliv',
      'split app µs/deliv',
      'all roles machine %',
      'split machine %',
    ],
    pairs.map(([a, s]) => [
      String(a.instances),
      n0(a.rate),
      `${f(a.latencyMs?.p50)} / ${f(a.latencyMs?.p99)}`,
      `${f(s.latencyMs?.p50)} / ${f(s.latencyMs?.p99)}`,
      f(a.cpuUsPerDelivery?.app),
      f(s.cpuUsPerDelivery?.app),
      f(a.cpu?.machinePct, 0),
      f(s.cpu?.machinePct, 0),
    ]),
  );
  const rates = [...new Set(pairs.map(([a]) => a.rate))];
  const ratios = markdownTable(
    ['rate msg/s', '2 vs 1 instances, p99 ratio: all roles', 'split'],
    rates.map((rate) => [n0(rate), oneVsTwo(all, rate), oneVsTwo(split, rate)]),
  );
  const lost = split.reduce((n, r) => n + (r.lost ?? 0) + (r.duplicates ?? 0) + (r.outOfOrder ?? 0), 0);
  const markdown = [
    '## Topology: every role in every instance vs gateways + one consumer process — `npm run bench -- fanout --topology split`',
    '',
    environmentLine(split),
    '',
    'The same fan-out load as above. "all roles": each instance runs the gateway and the four consumer groups (the ' +
      'default). "split": the instances only gateway (`ROLES=gateway`), one more process runs persist, broadcast, notify ' +
      'and receipts (`ROLES=persist,broadcast,notify,receipts`); its CPU is counted in "app".',
    '',
    table,
    '',
    ratios,
    '',
    `Correctness over every split step: ${lost} lost, duplicated or out of order.`,
  ].join('\n');
  return { name: 'fanout-split', markdown, charts: [] };
}

/** A result line's target as a key: "ours", "ours x2", "rabbitmq" (see targetName). */
export const targetKey = (r: Row): string => targetName({ target: String(r.target), instances: Number(r.instances ?? 1) });

const TARGET_LABELS: Record<string, string> = { rabbitmq: 'RabbitMQ Web-STOMP', socketio: 'Socket.IO + Redis adapter' };

/** A target as the report names it: "ours (2 instances)", "RabbitMQ Web-STOMP". */
export function targetLabel(target: string, instances: number): string {
  if (target === 'ours') return `ours (${instances} instance${instances > 1 ? 's' : ''})`;
  return TARGET_LABELS[target] ?? target;
}

export function peersSection(lines: readonly Row[], chartsRel: string): Section {
  const p = lines[0]!.params as Record<string, any>;
  const order = ['ours', 'rabbitmq', 'socketio'];
  const rows = [...lines].sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target) || (a.instances ?? 1) - (b.instances ?? 1) || a.rate - b.rate);
  // `peers --instances 1,2`: ours with more instances is a target of its own.
  const nameOf = (r: Row) => targetLabel(r.target, r.instances ?? 1);
  const charts = [
    latencyChart('peers-latency.svg', `Same load, three servers: latency vs send rate, rooms of ${p.members}`, rows, nameOf),
    cpuChart('peers-cpu.svg', 'CPU per delivered message, by process group', rows, (r) => `${targetKey(r)}\n${r.rate}/s`),
  ];
  const own = (r: Row) => Number(r.cpuUsPerDelivery?.[r.target === 'ours' ? 'app' : r.target] ?? NaN);
  const ours = new Map(rows.filter((r) => r.target === 'ours' && (r.instances ?? 1) === 1).map((r) => [r.rate, r]));
  const ratio = (a: number, b: number | undefined) => (b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${f(a / b, 2)}x` : '-');
  const body = [
    `One run, one driver, the same ${p.rooms} rooms × ${p.members} members and the same open-loop rates against: ours (1 instance, ` +
      `WebSocket STOMP, Kafka + Redis + PostgreSQL behind it: every message is durable before it is delivered); RabbitMQ ` +
      `${'`rabbitmq_web_stomp`'} (\`/topic/room.<n>\`, nothing stored); a Socket.IO reference server (\`bench/peers/socketio-server.ts\`, ` +
      `\`@socket.io/redis-adapter\` on the same Redis, nothing stored). ${p.warmupS} s warm-up + ${p.durationS} s measured per step` +
      `${p.receipts ? '; every send confirmed (receipt / ack)' : ''}.`,
    '',
    driverLine(rows, p.workers),
    '',
    ...foreignLine(lines),
    markdownTable(
      ['target', 'rate msg/s', ...latencyHeaders],
      rows.map((r) => [nameOf(r), n0(r.rate), ...latencyCells(r)]),
    ),
    '',
    link(chartsRel, charts[0]!),
    '',
    `Against ours at the same rate (server CPU = our app process / RabbitMQ's \`beam.smp\` / the Socket.IO process; all = every process on the machine, per delivery):`,
    '',
    markdownTable(
      [
        'target',
        'rate msg/s',
        'deliveries/s',
        'vs ours',
        'p50 / p99 / max ms',
        'p99 vs ours',
        'server CPU µs/delivery',
        'vs ours',
        'all CPU µs/delivery',
        'vs ours',
      ],
      rows.map((r) => {
        const o = ours.get(r.rate);
        return [
          nameOf(r),
          n0(r.rate),
          n0(r.deliveriesPerSec),
          ratio(r.deliveriesPerSec, o?.deliveriesPerSec),
          `${f(r.latencyMs?.p50)} / ${f(r.latencyMs?.p99)} / ${f(r.latencyMs?.max)}`,
          ratio(r.latencyMs?.p99, o?.latencyMs?.p99),
          f(own(r)),
          ratio(own(r), o ? own(o) : undefined),
          f(r.cpuUsPerDelivery?.machine),
          ratio(r.cpuUsPerDelivery?.machine, o?.cpuUsPerDelivery?.machine),
        ];
      }),
    ),
    '',
    `CPU per delivered message by process group, µs (share of one core):`,
    '',
    cpuTable(rows, (r) => [nameOf(r), n0(r.rate)], ['target', 'rate msg/s']),
    '',
    link(chartsRel, charts[1]!),
  ];
  return section('peers', 'Peers: the same load against RabbitMQ Web-STOMP and Socket.IO', lines, body, charts);
}

export function stormSection(lines: readonly Row[]): Section {
  const p = lines[0]!.params as Record<string, any>;
  return section('connect-storm', 'Connect storm', lines, [
    `${n0(p.connections)} ${p.transport === 'tcp' ? 'TCP' : 'WebSocket'} STOMP CONNECTs with valid tokens (${p.users} users created beforehand), opened at the ` +
      `same instant by ${p.workers} driver worker processes against one instance. Time to CONNECTED is measured from that common ` +
      `instant (the driver's own delay in opening sockets included); "handshake" from each socket's own start.`,
    '',
    columnsTable(lines, [
      ['run', (r) => String(r.repeat)],
      ['connections', (r) => n0(r.connections)],
      ['CONNECTED', (r) => n0(r.connected)],
      [
        'errors',
        (r) =>
          `${r.failed}${
            r.failed
              ? ` (${Object.entries(r.errors ?? {})
                  .map(([k, v]) => `${k}: ${v}`)
                  .join(', ')})`
              : ''
          }`,
      ],
      ['p50 ms', (r) => f(r.toConnectedMs?.p50)],
      ['p90 ms', (r) => f(r.toConnectedMs?.p90)],
      ['p99 ms', (r) => f(r.toConnectedMs?.p99)],
      ['max ms', (r) => f(r.toConnectedMs?.max)],
      ['handshake p50 / p99 ms', (r) => `${f(r.handshakeMs?.p50)} / ${f(r.handshakeMs?.p99)}`],
      ['app CPU s', (r) => f(r.appCpuSeconds, 2)],
      ['app CPU µs per connection', (r) => n0(r.appCpuUsPerConnection)],
      ['driver CPU s', (r) => f(r.driverCpuSeconds, 2)],
      ['machine busy %', (r) => f(r.machinePct, 0)],
    ]),
  ]);
}

export function idleSection(lines: readonly Row[]): Section {
  const p = lines[0]!.params as Record<string, any>;
  return section('idle', 'Idle connections', lines, [
    `${n0(p.connections)} STOMP connections to one instance over WebSocket or TCP (the latest run of each; ${p.users} users' tokens reused), ` +
      `heart-beat \`${p.heartbeatMs},${p.heartbeatMs}\` (the clients answer at the negotiated interval), spread over ${p.sourceAddresses} local ` +
      `source addresses, held ${p.holdS} s. RSS = the server process' resident memory (/proc); per connection = (after connecting − before) ÷ ` +
      `connections, and the same after the hold (which adds what heart-beats and timers allocated since, until the next GC) and for ` +
      `the readings taken once a second through the hold (their median is the steadier figure: one reading lands anywhere in V8's GC cycle). ` +
      `Open-files limit of the bench: ${p.openFilesLimit ?? '?'}; of the server: ${p.serverOpenFilesLimit ?? '?'}.`,
    '',
    columnsTable(lines, [
      ['transport', (r) => (r.params?.transport === 'tcp' ? 'TCP' : 'WebSocket')],
      ['connections', (r) => n0(r.connections)],
      ['connected', (r) => n0(r.connected)],
      ['failed', (r) => String(r.failed)],
      ['connect p50 / p99 ms', (r) => `${f(r.connectMs?.p50)} / ${f(r.connectMs?.p99)}`],
      ['RSS before MiB', (r) => f(r.rssBeforeMiB)],
      ['after connect MiB', (r) => f(r.rssConnectedMiB)],
      ['after hold MiB', (r) => f(r.rssAfterHoldMiB)],
      ['RSS per connection KiB (connected / after hold)', (r) => `${f(r.rssPerConnectionKiB, 2)} / ${f(r.rssPerConnectionAfterHoldKiB, 2)}`],
      [
        'during the hold, one reading a second: median / highest KiB',
        (r) => `${f(r.rssPerConnectionHoldMedianKiB, 2)} / ${f(r.rssPerConnectionHoldMaxKiB, 2)}`,
      ],
      ['open at end', (r) => n0(r.openAtEnd)],
      ['closed by server', (r) => String(r.closedByServer)],
      ['server heart-beats per connection (fewest / expected)', (r) => `${r.minHeartbeatsInPerConnection} / ${r.expectedHeartbeatsPerConnection}`],
      ['app CPU while idle %', (r) => f(r.appIdleCpuPct, 1)],
      ['alive through the hold', (r) => (r.aliveThroughHold && r.heartbeatsOk ? 'yes' : '**no**')],
    ]),
  ]);
}

export function reproduceSection(): Section {
  const md = [
    `## Reproduce`,
    '',
    '```sh',
    'npm ci && npm run stack:up',
    'npm run bench -- codec',
    'npm run bench -- fanout           # --instances 1,2 --rooms 20 --members 10 --rates 500,1000,2000 --warmup 5 --duration 20 --workers <cores>',
    'npm run bench -- peers            # --targets ours,rabbitmq,socketio (enables rabbitmq_web_stomp if needed), same flags as fanout',
    'npm run bench -- capacity         # the peers load stepped up until p99 > 100 ms or a loss; ours x1 and x2, RabbitMQ, Socket.IO',
    'npm run bench -- connect-storm    # --connections 1000 --users 50 --transport ws',
    'npm run bench -- idle             # --connections 20000 --hold 60 --heartbeat 10000 --source-addresses 8 --transport ws|tcp',
    'npm run bench -- partitioning',
    'npm run bench -- reads            # --instances 2 for two instances',
    'npm run bench -- resume           # --clients 1000',
    'npm run bench -- report           # regenerates the generated sections of this file and bench/charts/*.svg',
    '```',
    '',
    'Every run appends JSON lines to `bench/results/<scenario>.jsonl` (parameters, machine, load average, the merged latency ' +
      'histogram); `report` takes the latest run of each scenario.',
  ].join('\n');
  return { name: 'reproduce', markdown: md, charts: [] };
}

// --- placing sections in the document ------------------------------------------------------------

const begin = (name: string) => `<!-- bench-report:${name} begin -->`;
const end = (name: string) => `<!-- bench-report:${name} end -->`;

/**
 * Puts `section` into `doc`: in place of its markers when present; else in place of the hand-written section
 * whose heading starts with `replaceHeading` (up to the next `## ` or `### ` heading); else after the section
 * named `after` (after its markers and any `###` subsections that follow them); else at the end.
 */
export function placeSection(doc: string, section: Section, opts: { replaceHeading?: string; after?: string; toEnd?: boolean }): string {
  const block = `${begin(section.name)}\n${section.markdown.trim()}\n${end(section.name)}\n`;
  const b = doc.indexOf(begin(section.name));
  const e = doc.indexOf(end(section.name));
  if (b >= 0 && e > b) return doc.slice(0, b) + block + doc.slice(e + end(section.name).length).replace(/^\n/, '');
  const lines = doc.split('\n');
  if (opts.replaceHeading) {
    const h = lines.findIndex((l) => l.startsWith(opts.replaceHeading!));
    if (h >= 0) {
      let stop = lines.length;
      if (!opts.toEnd) {
        for (let i = h + 1; i < lines.length; i++) {
          if (lines[i]!.startsWith('## ') || lines[i]!.startsWith('### ')) {
            stop = i;
            break;
          }
        }
      }
      return [...lines.slice(0, h), ...block.split('\n').slice(0, -1), '', ...lines.slice(stop)].join('\n');
    }
  }
  if (opts.after) {
    const a = lines.findIndex((l) => l === end(opts.after!));
    if (a >= 0) {
      let at = lines.length;
      for (let i = a + 1; i < lines.length; i++) {
        if (lines[i]!.startsWith('## ') || lines[i]!.startsWith('<!-- bench-report:')) {
          at = i;
          break;
        }
      }
      return [...lines.slice(0, at), ...block.split('\n').slice(0, -1), '', ...lines.slice(at)].join('\n');
    }
  }
  return `${doc.replace(/\n*$/, '\n\n')}${block}`;
}
