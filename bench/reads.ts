// Read receipts (claim 3): a group room with 50 members and ~200 messages; W rounds in which every member
// marks read at once (even members over REST `POST /api/rooms/:id/read`, odd members over STOMP
// `SEND /app/rooms.<id>.read` with a receipt) at increasing seqs; then a race round in which every member sends
// its final position and a stale one at the same time over both transports (positions must only move forward).
// Measures read receipts/s and latency; then checks every member's unread count (GET /api/rooms), every
// message's unreadCount (history) and the PostgreSQL positions (GET /api/rooms/:id) against the exact values.
//
// npm run bench -- reads [--instances 1] [--members 50] [--messages 200] [--rounds 20]
import type { ServerProc } from '../test/support/cluster.js';
import { waitFor } from '../test/support/cluster.js';
import { Api, type Account } from '../test/support/api.js';
import { WsStomp } from '../test/support/stomp.js';
import {
  CpuMeter,
  Flags,
  appendResults,
  fmt,
  loadText,
  mapLimit,
  printTable,
  progress,
  round,
  serverCpuMeter,
  summarize,
  systemCpuMeter,
  warnForeignServers,
  withServers,
} from './lib.js';

interface ReadOp {
  transport: 'rest' | 'stomp';
  ms: number;
  ok: boolean;
}

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['instances', 'members', 'messages', 'rounds']);
  const p = {
    instances: f.int('instances', 1),
    members: f.int('members', 50, 2),
    messages: f.int('messages', 200),
    rounds: f.int('rounds', 20),
  };
  progress(`reads: ${p.instances} instance(s), ${p.members} members, ${p.messages} messages, ${p.rounds} rounds + 1 race round`);
  await withServers(p.instances, 'reads', async (servers) => {
    const foreign = await warnForeignServers(servers);
    await scenario(servers, p, foreign);
  });
}

async function scenario(servers: ServerProc[], p: { instances: number; members: number; messages: number; rounds: number }, foreign: string[]): Promise<void> {
  const apis = servers.map((s) => new Api(s.baseUrl));
  const apiOf = (i: number) => apis[i % apis.length]!;
  progress(`signing up ${p.members} users`);
  const perServer = await Promise.all(apis.map((api, i) => api.users(Math.floor(p.members / apis.length) + (i < p.members % apis.length ? 1 : 0), 'reads')));
  const users: Account[] = perServer.flat();
  const roomId = await apis[0]!.group(users[0]!, users.slice(1), `reads-${Date.now()}`);

  // Messages from a tenth of the members (so senders' own messages matter for their unread counts).
  const senders = Math.max(1, Math.floor(p.members / 10));
  progress(`sending ${p.messages} messages from ${senders} members`);
  const sent = await mapLimit(
    Array.from({ length: p.messages }, (_, i) => i),
    10,
    async (i) => {
      const user = users[i % senders]!;
      const r = await apiOf(i).send(user, roomId, `reads message ${i}`);
      if (r.status !== 202) throw new Error(`send failed: ${r.status} ${JSON.stringify(r.body)}`);
      return { seq: BigInt(r.body.message.seq as string), senderId: user.id };
    },
  );
  sent.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  // Read positions are capped at the newest stored/broadcast seq: wait until everything is stored.
  await waitFor(async () => (await apis[0]!.allMessages(users[0]!, roomId)).length >= p.messages, 60_000, 'all messages stored');
  progress('all messages stored');

  const stomp = await mapLimit(users, 10, (u, i) => WsStomp.connect(servers[i % servers.length]!.wsUrl, u.token));
  try {
    // Member i's final position: an index into `sent` between the middle and the end; round r reaches r/(W+1) of it.
    const n = sent.length;
    const finalIdx = users.map((_, i) => (i % 10 === 9 ? n - 1 : Math.floor((n - 1) * (0.5 + (0.5 * ((i * 37) % p.members)) / p.members))));
    const seqAt = (idx: number) => sent[idx]!.seq.toString();
    const ops: ReadOp[] = [];
    let wrongAnswers = 0;
    let roundsMs = 0;

    const markRead = async (i: number, seq: string, transport: 'rest' | 'stomp', expectAtLeast: bigint): Promise<void> => {
      const t0 = performance.now();
      let ok = false;
      let last: bigint | null = null;
      try {
        if (transport === 'rest') {
          const r = await apiOf(i).call('POST', `/api/rooms/${roomId}/read`, users[i]!.token, { seq });
          ok = r.status === 200;
          if (ok) last = BigInt(r.body.lastReadSeq as string);
        } else {
          const h = await stomp[i]!.send(`/app/rooms.${roomId}.read`, JSON.stringify({ seq }), { 'content-type': 'application/json' });
          ok = h['last-read-seq'] !== undefined;
          if (ok) last = BigInt(h['last-read-seq']!);
        }
      } catch {
        ok = false;
      }
      ops.push({ transport, ms: performance.now() - t0, ok });
      // The answer is the position after this read: never below what this member already reached.
      if (ok && last !== null && last < expectAtLeast) wrongAnswers++;
    };

    const reached = users.map(() => 0n);
    const benchCpu = new CpuMeter();
    const srvCpu = serverCpuMeter(servers);
    const sysCpu = systemCpuMeter();
    for (let r = 1; r <= p.rounds; r++) {
      const t0 = performance.now();
      await Promise.all(
        users.map(async (_, i) => {
          const seq = seqAt(Math.floor((finalIdx[i]! * r) / (p.rounds + 1)));
          const want = BigInt(seq) > reached[i]! ? BigInt(seq) : reached[i]!;
          await markRead(i, seq, i % 2 === 0 ? 'rest' : 'stomp', want);
          reached[i] = want;
        }),
      );
      roundsMs += performance.now() - t0;
      if (r % 5 === 0 || r === p.rounds) progress(`round ${r}/${p.rounds}: ${ops.length} reads so far, ${fmt((ops.length / roundsMs) * 1000, 0)} reads/s`);
    }
    // Race round: the final position and a stale one at once, over both transports.
    {
      const t0 = performance.now();
      await Promise.all(
        users.flatMap((_, i) => {
          const finalSeq = seqAt(finalIdx[i]!);
          const staleSeq = seqAt(Math.floor(finalIdx[i]! / (p.rounds + 1)));
          const [a, b] = i % 2 === 0 ? (['rest', 'stomp'] as const) : (['stomp', 'rest'] as const);
          return [markRead(i, finalSeq, a, BigInt(finalSeq)), markRead(i, staleSeq, b, reached[i]!)];
        }),
      );
      roundsMs += performance.now() - t0;
      progress(`race round done: ${ops.length} reads`);
    }

    const cpu = { bench: benchCpu.percent(), servers: srvCpu(), machine: sysCpu(), load: loadText() };

    // --- verification -----------------------------------------------------------------------
    const finalPos = users.map((_, i) => sent[finalIdx[i]!]!.seq);
    const expectedUnread = users.map((u, i) => sent.filter((m) => m.seq > finalPos[i]! && m.senderId !== u.id).length);
    let roomListWrong = 0;
    const roomLists = await mapLimit(users, 10, async (u, i) => {
      const r = await apiOf(i).call('GET', '/api/rooms', u.token);
      const room = (r.body.rooms as Array<{ id: string; unreadCount: number }>).find((x) => x.id === roomId);
      return room?.unreadCount;
    });
    roomLists.forEach((got, i) => {
      if (got !== expectedUnread[i]) roomListWrong++;
    });
    const history = await apis[0]!.allMessages(users[0]!, roomId);
    let historyWrong = 0;
    for (const m of history) {
      const seq = BigInt(m.seq as string);
      const want = users.filter((u, i) => u.id !== m.senderId && finalPos[i]! < seq).length;
      if (m.unreadCount !== want) historyWrong++;
    }
    // PostgreSQL positions follow through chat.read-receipts (eventually): wait for them.
    let pgWrong = users.length;
    try {
      await waitFor(
        async () => {
          const r = await apis[0]!.call('GET', `/api/rooms/${roomId}`, users[0]!.token);
          const byUser = new Map((r.body.members as Array<{ userId: string; lastReadSeq: string }>).map((m) => [m.userId, m.lastReadSeq]));
          pgWrong = users.filter((u, i) => byUser.get(u.id) !== finalPos[i]!.toString()).length;
          return pgWrong === 0;
        },
        20_000,
        'PostgreSQL read positions',
        250,
      );
    } catch {
      // reported below
    }
    const failed = ops.filter((o) => !o.ok).length;
    const exact = roomListWrong === 0 && historyWrong === 0 && pgWrong === 0 && wrongAnswers === 0 && failed === 0 && history.length === p.messages;

    const all = summarize(ops.map((o) => o.ms));
    const rest = summarize(ops.filter((o) => o.transport === 'rest').map((o) => o.ms));
    const st = summarize(ops.filter((o) => o.transport === 'stomp').map((o) => o.ms));
    const perSec = (ops.length / roundsMs) * 1000;
    printTable(
      `reads: ${p.members} members marking read concurrently, ${p.instances} instance(s)`,
      [
        'reads',
        'read receipts/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'REST p50/p99',
        'STOMP p50/p99',
        'failed',
        'bench CPU %',
        'server CPU %',
        'machine CPU %',
        'load',
      ],
      [
        [
          ops.length,
          fmt(perSec, 0),
          fmt(all.p50),
          fmt(all.p99),
          fmt(all.max),
          `${fmt(rest.p50)} / ${fmt(rest.p99)}`,
          `${fmt(st.p50)} / ${fmt(st.p99)}`,
          failed,
          fmt(cpu.bench, 0),
          cpu.servers.map((c) => fmt(c, 0)).join('+'),
          fmt(cpu.machine, 0),
          cpu.load,
        ],
      ],
    );
    printTable(
      'reads: exactness',
      ['check', 'wrong', 'of'],
      [
        ['member unread count (GET /api/rooms)', roomListWrong, users.length],
        ['per-message unreadCount (history)', historyWrong, history.length],
        ['PostgreSQL lastReadSeq (GET /api/rooms/:id, within 20 s)', pgWrong, users.length],
        ['read answers below the position already reached', wrongAnswers, ops.length],
        ['messages in history', p.messages - history.length, p.messages],
      ],
    );
    process.stdout.write(`exact: ${exact ? 'yes' : 'no'}\n\n`);
    appendResults('reads', { ...p }, [
      {
        reads: ops.length,
        readsPerSec: round(perSec),
        latencyMs: { p50: round(all.p50, 2), p99: round(all.p99, 2), max: round(all.max, 2) },
        restLatencyMs: { p50: round(rest.p50, 2), p99: round(rest.p99, 2) },
        stompLatencyMs: { p50: round(st.p50, 2), p99: round(st.p99, 2) },
        failed,
        roomListWrong,
        historyWrong,
        pgWrong,
        wrongAnswers,
        historyMessages: history.length,
        exact,
        foreignServers: foreign,
        benchCpuPct: round(cpu.bench),
        serverCpuPct: cpu.servers.map((c) => round(c)),
        machineCpuPct: round(cpu.machine),
        load: cpu.load,
      },
    ]);
  } finally {
    await Promise.allSettled(stomp.map((c) => c.close()));
  }
}
