// Idle connections: N STOMP connections (WebSocket or TCP) with heart-beats on (the clients answer at the
// negotiated rate), held on one instance for a while. Reports the server's RSS before, after connecting and
// after the hold, RSS per connection, the server's CPU while idle, and whether heart-beats kept every connection
// alive (none closed by the server, every one receiving the server's beats).
//
// The bench re-runs itself under a higher open-files limit when needed (inherited by the server and the driver);
// client sockets are spread over several local source addresses (127.0.0.2, 127.0.0.3, …) so one address'
// ephemeral ports never run out.
//
// npm run bench -- idle [--connections 20000] [--users 100] [--hold 60] [--transport ws] [--heartbeat 10000]
//                       [--source-addresses 8] [--concurrency 100] [--workers <cores>] [--timeout 60]
//   --heartbeat:   the clients' heart-beat offer, both directions (ms); the server offers HEARTBEAT_MS (10 s)
//   --concurrency: connections being opened at once, per driver worker
import { cpus } from 'node:os';
import { appAndDriverCpu, checkTransport, connectionSpecs, withConnectionBench } from './connections.js';
import { openFilesLimit, treeRssBytes } from './driver/cpu.js';
import type { HoldStatus, Transport } from './driver/ipc.js';
import { ensureOpenFiles } from './driver/processes.js';
import { Flags, RUN_ID, appendResults, commandLine, fmt, loadText, printTable, progress, sleep } from './lib.js';

const MiB = 2 ** 20;

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['connections', 'users', 'hold', 'transport', 'heartbeat', 'source-addresses', 'concurrency', 'workers', 'timeout']);
  const p = {
    connections: f.int('connections', 20_000),
    users: f.int('users', 100),
    holdS: f.num('hold', 60, 1),
    transport: f.str('transport', 'ws') as Transport,
    heartbeatMs: f.int('heartbeat', 10_000, 0),
    sourceAddresses: f.int('source-addresses', 8),
    concurrency: f.int('concurrency', 100),
    workers: f.int('workers', cpus().length),
    timeoutS: f.num('timeout', 60, 1),
  };
  checkTransport(p.transport);
  // The server holds every connection; each driver worker a share of them.
  const limit = await ensureOpenFiles(p.connections + 1024);
  progress(
    `idle: ${p.connections} ${p.transport} STOMP connections, heart-beat ${p.heartbeatMs},${p.heartbeatMs}, held ${p.holdS} s, ${p.users} users, ${p.sourceAddresses} source addresses; open-files limit ${limit}`,
  );
  await withConnectionBench('idle', p, async (server, users, driver) => {
    const pid = server.proc.pid!;
    const serverLimit = openFilesLimit(pid);
    if (serverLimit < p.connections + 256) {
      progress(
        `WARNING: the server may open only ${serverLimit} files (hard limit of this shell; raising it needs root or CAP_SYS_RESOURCE): ` +
          `about ${Math.max(0, serverLimit - 256)} connections will succeed, the rest fail`,
      );
    }
    const specs = connectionSpecs(server, users, p, { heartbeat: [p.heartbeatMs, p.heartbeatMs] });
    await sleep(2000);
    const rssBefore = treeRssBytes([pid]);
    progress(`server RSS before: ${fmt(rssBefore / MiB)} MiB; connecting`);
    const conn = await driver.connect(specs, { concurrency: p.concurrency, timeoutMs: p.timeoutS * 1000 });
    const rssConnected = treeRssBytes([pid]);
    const driverRss = treeRssBytes(driver.pids);
    progress(
      `${conn.connected} connected, ${conn.failed} failed${conn.failed ? ` ${JSON.stringify(conn.errors)}` : ''} in ${fmt(conn.elapsedMs / 1000)} s ` +
        `(connect p50/p99 ${fmt(conn.connect.p50)}/${fmt(conn.connect.p99)} ms); server RSS ${fmt(rssConnected / MiB)} MiB; holding ${p.holdS} s`,
    );
    const cpu = appAndDriverCpu(server, driver);
    cpu.begin();
    const holdEnd = performance.now() + p.holdS * 1000;
    let status: HoldStatus = await driver.status();
    // RSS once a second through the hold: one reading lands anywhere in V8's GC cycle (garbage waiting for the
    // next major GC counts), so the median of the hold is the steadier figure.
    const holdRss: number[] = [];
    let nextStatusAt = performance.now() + 10_000;
    while (performance.now() < holdEnd) {
      await sleep(Math.min(1000, holdEnd - performance.now()));
      holdRss.push(treeRssBytes([pid]));
      if (performance.now() < nextStatusAt && performance.now() < holdEnd) continue;
      nextStatusAt += 10_000;
      status = await driver.status();
      progress(
        `hold: ${status.open} open, ${status.closedUnexpectedly} closed by the server, heart-beats in ${status.heartbeatsIn} (fewest per connection ${status.minHeartbeatsIn}), out ${status.heartbeatsOut}; server RSS ${fmt(holdRss.at(-1)! / MiB)} MiB; ${loadText()}`,
      );
    }
    const c = cpu.end();
    const rssAfter = treeRssBytes([pid]);
    await driver.closeClients();
    const app = c.groups.find((g) => g.name === 'app')!;
    // The negotiated server interval (CONNECTED heart-beat sx vs our cy); the server cuts a client silent for
    // 2 x the client's interval + 2 s.
    const beatEvery = status.serverHeartbeatMs;
    const expectedBeats = beatEvery > 0 ? Math.floor((p.holdS * 1000) / beatEvery) : 0;
    const alive = status.open === conn.connected && status.closedUnexpectedly === 0;
    // Timers run late on a busy machine: one beat fewer than the hold allows is still a live connection.
    const beatsOk = expectedBeats === 0 || status.minHeartbeatsIn >= expectedBeats - 1;
    const deadAfterMs = 2 * Math.max(10_000, p.heartbeatMs) + 2000;
    if (p.heartbeatMs > 0 && p.holdS * 1000 <= deadAfterMs) {
      progress(
        `NOTE: a ${p.holdS} s hold is shorter than the server's dead-peer cut-off (${deadAfterMs / 1000} s): use --hold > ${deadAfterMs / 1000} to show heart-beats keep connections alive`,
      );
    }
    const perConnectionKiB = (rss: number) => (conn.connected ? Number(((rss - rssBefore) / 1024 / conn.connected).toFixed(2)) : null);
    const sortedHoldRss = [...holdRss].sort((a, b) => a - b);
    const row = {
      connections: p.connections,
      connected: conn.connected,
      failed: conn.failed,
      errors: { ...conn.errors, ...status.errors },
      connectMs: conn.connect,
      connectAllSeconds: Number((conn.elapsedMs / 1000).toFixed(2)),
      rssBeforeMiB: Number((rssBefore / MiB).toFixed(1)),
      rssConnectedMiB: Number((rssConnected / MiB).toFixed(1)),
      rssAfterHoldMiB: Number((rssAfter / MiB).toFixed(1)),
      // Right after connecting (the connections' own memory) and after the hold (plus what heart-beats and
      // timers allocated meanwhile, until the next GC).
      rssPerConnectionKiB: perConnectionKiB(rssConnected),
      rssPerConnectionAfterHoldKiB: perConnectionKiB(rssAfter),
      // The hold's readings (one a second): their median and highest.
      rssPerConnectionHoldMedianKiB: perConnectionKiB(sortedHoldRss[Math.floor(sortedHoldRss.length / 2)] ?? rssAfter),
      rssPerConnectionHoldMaxKiB: perConnectionKiB(sortedHoldRss.at(-1) ?? rssAfter),
      driverRssPerConnectionKiB: conn.connected ? Number((driverRss / 1024 / conn.connected).toFixed(2)) : null,
      holdSeconds: p.holdS,
      openAtEnd: status.open,
      closedByServer: status.closedUnexpectedly,
      heartbeatsIn: status.heartbeatsIn,
      minHeartbeatsInPerConnection: status.minHeartbeatsIn,
      expectedHeartbeatsPerConnection: expectedBeats,
      serverHeartbeatMs: beatEvery,
      heartbeatsOut: status.heartbeatsOut,
      aliveThroughHold: alive,
      heartbeatsOk: beatsOk,
      appIdleCpuPct: Number(app.pctOfCore.toFixed(2)),
      appIdleCpuUsPerConnectionSecond: conn.connected ? Number(((app.cpuSeconds * 1e6) / conn.connected / c.windowSeconds).toFixed(3)) : null,
    };
    printTable(
      `idle: ${p.connections} ${p.transport} STOMP connections, heart-beat ${p.heartbeatMs},${p.heartbeatMs}, held ${p.holdS} s, 1 instance`,
      [
        'connected',
        'failed',
        'RSS before MiB',
        'after connect MiB',
        'after hold MiB',
        'RSS/conn KiB (connect / hold)',
        'hold median / max',
        'open at end',
        'closed by server',
        'server beats/conn (min, expected)',
        'client beats sent',
        'app CPU % idle',
        'alive',
      ],
      [
        [
          row.connected,
          row.failed,
          fmt(row.rssBeforeMiB),
          fmt(row.rssConnectedMiB),
          fmt(row.rssAfterHoldMiB),
          `${fmt(row.rssPerConnectionKiB ?? NaN, 2)} / ${fmt(row.rssPerConnectionAfterHoldKiB ?? NaN, 2)}`,
          `${fmt(row.rssPerConnectionHoldMedianKiB ?? NaN, 2)} / ${fmt(row.rssPerConnectionHoldMaxKiB ?? NaN, 2)}`,
          row.openAtEnd,
          row.closedByServer,
          `${row.minHeartbeatsInPerConnection}, ${expectedBeats}`,
          row.heartbeatsOut,
          fmt(row.appIdleCpuPct, 1),
          alive && beatsOk ? 'yes' : 'NO',
        ],
      ],
    );
    appendResults('idle', { ...p, command: commandLine('idle', args), runId: RUN_ID, openFilesLimit: limit, serverOpenFilesLimit: serverLimit }, [row]);
  });
}
