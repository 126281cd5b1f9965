// Fan-out (claims 1 + 2): N rooms x M members, every member a WebSocket STOMP subscriber of its room, users
// spread alternately over the instances; a paced open-loop sender at fixed rates. Per step: achieved send rate,
// deliveries/s, lost, duplicates, per-subscriber order violations, end-to-end latency (send -> MESSAGE, same
// clock), errors; 1 instance and 2 instances in one command, side by side.
//
// npm run bench -- fanout [--instances 1,2] [--rooms 20] [--members 10] [--rates 100,250,500,1000]
//                         [--duration 10] [--warmup 3] [--drain 30]
//   --duration: measured seconds per step (after --warmup seconds that count for loss/order, not for rates or latency)
//   --drain:    seconds to wait after a step for every expected delivery and receipt before counting losses
//   --all-rates: keep going after a saturated step (by default the higher rates of that configuration are
//                skipped once a step reached < 75 % of its target rate or a p99 latency above 5 s)
import type { IMessage } from '@stomp/stompjs';
import { cpus } from 'node:os';
import type { ServerProc } from '../test/support/cluster.js';
import { Api, type Account } from '../test/support/api.js';
import { WsStomp } from '../test/support/stomp.js';
import {
  CpuMeter,
  Flags,
  appendResults,
  cpuNote,
  fmt,
  mapLimit,
  paced,
  printTable,
  progress,
  round,
  bucketText,
  histogramQuantile,
  scrapeHistogram,
  serverCpuMeter,
  sleep,
  foreignGroupMembers,
  loadText,
  systemCpuMeter,
  warnForeignServers,
  summarize,
  withServers,
  type Summary,
} from './lib.js';

interface Params {
  instances: number[];
  rooms: number;
  members: number;
  rates: number[];
  durationS: number;
  warmupS: number;
  drainS: number;
  allRates: boolean;
}

interface Subscriber {
  room: number;
  member: number;
  conn: WsStomp;
  lastSeq: number;
  seen: Set<string>;
}

interface StepResult {
  instances: number;
  targetRate: number;
  sent: number;
  achievedRate: number;
  deliveredPerSec: number;
  expected: number;
  receivedUnique: number;
  lost: number;
  duplicates: number;
  orderViolations: number;
  latency: Summary;
  receiptsOk: number;
  receiptsFailed: number;
  stompErrors: number;
  disconnects: number;
  benchCpuPct: number;
  serverCpuPct: number[];
  machineCpuPct: number;
  /** Server-side createdAt -> MESSAGE written (chat_message_e2e_latency_seconds), bucket upper bounds, ms. */
  serverE2eP50: number;
  serverE2eP99: number;
  /** SEND -> RECEIPT (Kafka acknowledged), measured window. */
  receiptLatency: Summary;
  /** Other server processes in the consumer groups during the pass (see warnForeignServers). */
  foreignServers: string[];
  loadAvg: string;
}

/** Content of a bench message: step, measured-window flag, send time (epoch ms, fractional), index. */
const encodeContent = (step: number, measured: boolean, sentAt: number, i: number) => `${step}|${measured ? 'm' : 'w'}|${sentAt.toFixed(3)}|${i}`;
const E2E = 'chat_message_e2e_latency_seconds';
const nowMs = () => performance.timeOrigin + performance.now();

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['instances', 'rooms', 'members', 'rates', 'duration', 'warmup', 'drain', 'all-rates']);
  const p: Params = {
    instances: f.list('instances', [1, 2]),
    rooms: f.int('rooms', 20),
    members: f.int('members', 10, 2),
    rates: f.list('rates', [100, 250, 500, 1000]),
    durationS: f.num('duration', 12, 1),
    warmupS: f.num('warmup', 3, 0),
    drainS: f.num('drain', 20, 1),
    allRates: f.str('all-rates', 'false') === 'true',
  };
  progress(`fanout: ${p.rooms} rooms x ${p.members} members = ${p.rooms * p.members} WebSocket subscribers; rates ${p.rates.join(',')} msgs/s; ${p.warmupS}+${p.durationS} s per step; instances ${p.instances.join(',')}`);

  // Accounts and rooms are created once (on the first configuration's servers) and reused.
  let world: { users: Account[][]; roomIds: string[] } | null = null;
  const results: StepResult[] = [];
  for (const n of p.instances) {
    await withServers(n, `fanout${n}`, async (servers) => {
      world ??= await createWorld(servers, p);
      results.push(...(await runPass(servers, world, p)));
    });
  }

  const cols = ['instances', 'target msg/s', 'achieved msg/s', 'delivered/s', 'expected', 'lost', 'dup', 'order viol.', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'srv e2e p50/p99', 'receipt p99', 'errors', 'bench CPU %', 'server CPU %', 'machine CPU %', 'other servers'];
  printTable(
    'fanout: every configuration and rate',
    cols,
    results.map((r) => [
      r.instances,
      r.targetRate,
      fmt(r.achievedRate, 0),
      fmt(r.deliveredPerSec, 0),
      r.expected,
      r.lost,
      r.duplicates,
      r.orderViolations,
      fmt(r.latency.p50),
      fmt(r.latency.p95),
      fmt(r.latency.p99),
      fmt(r.latency.max),
      `${bucketText(r.serverE2eP50)} / ${bucketText(r.serverE2eP99)}`,
      fmt(r.receiptLatency.p99),
      r.stompErrors + r.receiptsFailed + r.disconnects,
      fmt(r.benchCpuPct, 0),
      r.serverCpuPct.map((c) => fmt(c, 0)).join('+'),
      fmt(r.machineCpuPct, 0),
      r.foreignServers.length,
    ]),
  );
  if (p.instances.length > 1) {
    const byRate = p.rates.map((rate) => [rate, ...p.instances.map((n) => results.find((r) => r.instances === n && r.targetRate === rate))] as const);
    printTable(
      `fanout: side by side (${p.instances.map((n) => `${n} instance${n > 1 ? 's' : ''}`).join(' vs ')}) - delivered/s, lost, p50 / p99 ms`,
      ['target msg/s', ...p.instances.flatMap((n) => [`${n}i delivered/s`, `${n}i lost`, `${n}i p50`, `${n}i p99`])],
      byRate.map(([rate, ...rs]) => [
        rate,
        ...rs.flatMap((r) => (r ? [fmt(r.deliveredPerSec, 0), r.lost, fmt(r.latency.p50), fmt(r.latency.p99)] : ['-', '-', '-', '-'])),
      ]),
    );
  }
  for (const n of p.instances) {
    const r = results.find((x) => x.instances === n && x.targetRate === 1000);
    const last = results.filter((x) => x.instances === n).at(-1);
    if (r) {
      progress(
        `target check (${n} instance(s), 1,000 msgs/s, ${p.members} members): p99 ${fmt(r.latency.p99)} ms ${r.latency.p99 < 50 ? '<' : '>='} 50 ms, ` +
          `${fmt(r.deliveredPerSec, 0)} deliveries/s (target 10,000), lost ${r.lost}`,
      );
    } else if (p.rates.includes(1000) && last) {
      progress(`target check (${n} instance(s)): 1,000 msgs/s not run, saturated at ${last.targetRate} msgs/s (p99 ${fmt(last.latency.p99)} ms)`);
    }
  }
  appendResults(
    'fanout',
    { ...p },
    results.map((r) => ({
      instances: r.instances,
      targetRate: r.targetRate,
      sent: r.sent,
      achievedRate: round(r.achievedRate),
      deliveredPerSec: round(r.deliveredPerSec),
      expected: r.expected,
      receivedUnique: r.receivedUnique,
      lost: r.lost,
      duplicates: r.duplicates,
      orderViolations: r.orderViolations,
      latencyMs: { p50: round(r.latency.p50, 2), p95: round(r.latency.p95, 2), p99: round(r.latency.p99, 2), max: round(r.latency.max, 2), mean: round(r.latency.mean, 2), n: r.latency.n },
      receiptsOk: r.receiptsOk,
      receiptsFailed: r.receiptsFailed,
      stompErrors: r.stompErrors,
      disconnects: r.disconnects,
      benchCpuPct: round(r.benchCpuPct),
      serverCpuPct: r.serverCpuPct.map((c) => round(c)),
      machineCpuPct: round(r.machineCpuPct),
      loadAvg: r.loadAvg,
      serverE2eBucketMs: { p50: r.serverE2eP50, p99: r.serverE2eP99 },
      foreignServers: r.foreignServers,
      receiptLatencyMs: { p50: round(r.receiptLatency.p50, 2), p99: round(r.receiptLatency.p99, 2), max: round(r.receiptLatency.max, 2) },
    })),
  );
}

async function createWorld(servers: ServerProc[], p: Params): Promise<{ users: Account[][]; roomIds: string[] }> {
  const total = p.rooms * p.members;
  progress(`signing up ${total} users (scrypt: takes a while)`);
  const apis = servers.map((s) => new Api(s.baseUrl));
  const perServer = await Promise.all(apis.map((api, i) => api.users(Math.floor(total / apis.length) + (i < total % apis.length ? 1 : 0), 'fanout')));
  const flat = perServer.flat();
  const users: Account[][] = [];
  for (let r = 0; r < p.rooms; r++) users.push(flat.slice(r * p.members, (r + 1) * p.members));
  const roomIds = await mapLimit(users, 8, (members) => apis[0]!.group(members[0]!, members.slice(1), `fanout-${Date.now()}`));
  progress(`${p.rooms} rooms created`);
  return { users, roomIds };
}

async function runPass(servers: ServerProc[], world: { users: Account[][]; roomIds: string[] }, p: Params): Promise<StepResult[]> {
  const n = servers.length;
  const foreign = await warnForeignServers(servers);
  const subs: Subscriber[][] = [];
  let disconnects = 0;
  let stepNo = -1;
  // Per step: unique receptions, frames in the measured window, latencies.
  let uniqueThisStep = 0;
  let framesInWindow = 0;
  let inWindow = false;
  let duplicates = 0;
  let orderViolations = 0;
  let latencies: number[] = [];

  const onMessage = (sub: Subscriber) => (raw: IMessage) => {
    const at = nowMs();
    if (inWindow) framesInWindow++;
    const id = raw.headers['message-id']!;
    const seq = Number(raw.headers.seq);
    if (sub.seen.has(id)) {
      duplicates++;
      return;
    }
    sub.seen.add(id);
    if (!(seq > sub.lastSeq)) orderViolations++;
    sub.lastSeq = Math.max(sub.lastSeq, seq);
    const content = (JSON.parse(raw.body) as { content: string }).content;
    const [step, phase, sentAt] = content.split('|');
    if (Number(step) !== stepNo) return;
    uniqueThisStep++;
    if (phase === 'm') latencies.push(at - Number(sentAt));
  };

  progress(`${n} instance(s): connecting ${p.rooms * p.members} subscribers (user k of the room on instance k mod ${n})`);
  let k = 0;
  const plan: Array<{ room: number; member: number; server: ServerProc }> = [];
  for (let r = 0; r < p.rooms; r++) for (let m = 0; m < p.members; m++) plan.push({ room: r, member: m, server: servers[k++ % n]! });
  const connected = await mapLimit(plan, 20, async ({ room, member, server }) => {
    const conn = await WsStomp.connect(server.wsUrl, world.users[room]![member]!.token);
    conn.client.onWebSocketClose = () => {
      if (conn.client.active) disconnects++;
    };
    return { room, member, conn, lastSeq: 0, seen: new Set<string>() } satisfies Subscriber;
  });
  // Subscribed with a raw handler (WsStomp.subscribe would parse every body); ready at the RECEIPT.
  await mapLimit(connected, 20, async (sub) => {
    const receipt = `rs-${sub.room}-${sub.member}`;
    const got = new Promise<void>((resolve) => sub.conn.client.watchForReceipt(receipt, () => resolve()));
    sub.conn.client.subscribe(`/topic/rooms.${world.roomIds[sub.room]}`, onMessage(sub), { id: 'bench', receipt });
    await got;
  });
  for (let r = 0; r < p.rooms; r++) subs.push(connected.filter((s) => s.room === r).sort((a, b) => a.member - b.member));
  progress(`${connected.length} subscribers ready`);

  const results: StepResult[] = [];
  try {
    for (const rate of p.rates) {
      stepNo++;
      uniqueThisStep = 0;
      framesInWindow = 0;
      latencies = [];
      const dupBefore = duplicates;
      const orderBefore = orderViolations;
      const discBefore = disconnects;
      const errBefore = connected.reduce((a, s) => a + s.conn.errors.length, 0);
      let receiptsOk = 0;
      const warmupMs = p.warmupS * 1000;
      const totalMs = warmupMs + p.durationS * 1000;
      const bench = new CpuMeter();
      const srvCpu = serverCpuMeter(servers);
      const sysCpu = systemCpuMeter();
      const urls = servers.map((s) => s.baseUrl);
      let histBefore = new Map<number, number>();
      const receiptLat: number[] = [];
      let windowStart = 0;
      // The first warmCount messages (the warm-up seconds) count for loss and order, not for rates or latency.
      const warmCount = Math.floor(rate * p.warmupS);
      const stepStart = performance.now();
      const warmTimer = setTimeout(() => {
        inWindow = true;
        windowStart = performance.now();
        bench.start();
        srvCpu();
        sysCpu();
        void scrapeHistogram(urls, E2E).then((h) => (histBefore = h));
      }, warmupMs);
      progress(`${n}i step ${rate} msgs/s: sending for ${(totalMs / 1000).toFixed(0)} s`);
      const { sent, elapsedMs } = await paced(rate, totalMs, (i) => {
        const room = i % p.rooms;
        const sender = subs[room]![Math.floor(i / p.rooms) % p.members]!;
        const measured = i >= warmCount;
        const receipt = `s${stepNo}-${i}`;
        const at = nowMs();
        sender.conn.client.watchForReceipt(receipt, () => {
          receiptsOk++;
          if (measured) receiptLat.push(nowMs() - at);
        });
        sender.conn.client.publish({
          destination: `/topic/rooms.${world.roomIds[room]}`,
          body: encodeContent(stepNo, measured, at, i),
          headers: { receipt, 'content-type': 'text/plain' },
        });
      });
      clearTimeout(warmTimer);
      inWindow = false;
      const windowMs = performance.now() - windowStart;
      const sendWindowMs = elapsedMs - warmupMs;
      const benchCpu = bench.percent();
      const serverCpu = srvCpu();
      const machineCpu = sysCpu();
      const histAfter = await scrapeHistogram(urls, E2E);
      const windowFrames = framesInWindow;
      const expected = sent * p.members;
      progress(`${n}i step ${rate}: sent ${sent} in ${(elapsedMs / 1000).toFixed(1)} s; waiting for ${expected} deliveries (received ${uniqueThisStep} so far)`);
      const deadline = Date.now() + p.drainS * 1000;
      while ((uniqueThisStep < expected || receiptsOk < sent) && Date.now() < deadline) await sleep(50);
      const latency = summarize(latencies);
      const r: StepResult = {
        instances: n,
        targetRate: rate,
        sent,
        achievedRate: ((sent - warmCount) / sendWindowMs) * 1000,
        deliveredPerSec: (windowFrames / windowMs) * 1000,
        expected,
        receivedUnique: uniqueThisStep,
        lost: expected - uniqueThisStep,
        duplicates: duplicates - dupBefore,
        orderViolations: orderViolations - orderBefore,
        latency,
        receiptsOk,
        receiptsFailed: sent - receiptsOk,
        stompErrors: connected.reduce((a, s) => a + s.conn.errors.length, 0) - errBefore,
        disconnects: disconnects - discBefore,
        benchCpuPct: benchCpu,
        serverCpuPct: serverCpu,
        machineCpuPct: machineCpu,
        serverE2eP50: histogramQuantile(histBefore, histAfter, 0.5),
        serverE2eP99: histogramQuantile(histBefore, histAfter, 0.99),
        receiptLatency: summarize(receiptLat),
        foreignServers: [...new Set([...foreign, ...(await foreignGroupMembers(servers.map((s) => s.instanceId)))])],
        loadAvg: loadText(),
      };
      results.push(r);
      progress(
        `${n}i step ${rate}: achieved ${fmt(r.achievedRate, 0)} msg/s, delivered ${fmt(r.deliveredPerSec, 0)}/s, lost ${r.lost}, dup ${r.duplicates}, order ${r.orderViolations}, ` +
          `p50/p95/p99/max ${fmt(latency.p50)}/${fmt(latency.p95)}/${fmt(latency.p99)}/${fmt(latency.max)} ms, receipts failed ${r.receiptsFailed}, errors ${r.stompErrors}, ` +
          `receipt p50/p99 ${fmt(r.receiptLatency.p50)}/${fmt(r.receiptLatency.p99)} ms, server-side e2e p50/p99 ${bucketText(r.serverE2eP50)}/${bucketText(r.serverE2eP99)} ms, ` +
          `bench CPU ${fmt(benchCpu, 0)}%${cpuNote(benchCpu)}, server CPU ${serverCpu.map((c) => fmt(c, 0) + '%').join(' + ')}, machine CPU ${fmt(machineCpu, 0)}% of ${cpus().length} cores, ${r.loadAvg}` +
          (r.foreignServers.length ? `, ${r.foreignServers.length} other server(s) in the consumer groups` : ''),
      );
      if (!p.allRates && (r.achievedRate < 0.75 * rate || r.latency.p99 > 5000)) {
        const rest = p.rates.slice(p.rates.indexOf(rate) + 1);
        if (rest.length) progress(`${n}i saturated at ${rate} msgs/s: skipping ${rest.join(', ')} (use --all-rates to run them anyway)`);
        break;
      }
      await sleep(500);
    }
  } finally {
    await mapLimit(connected, 50, (s) => s.conn.close().catch(() => {}));
  }
  return results;
}
