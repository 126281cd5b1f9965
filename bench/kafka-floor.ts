// The floor of the Kafka leg alone, with Apache Kafka's own Java client (bench/kafka-floor/KafkaFloor.java): at each
// rate, an idempotent acks=all producer with no linger writes 100 B records keyed over 20 rooms into a 6-partition
// topic of its own (open loop), and a read_committed consumer fetching as soon as one record exists receives them.
// No app, no Redis, no client socket: every chat message crosses this leg before it is delivered, so no setting of
// ours brings SEND -> MESSAGE below it. Prints the latency from each record's intended send time to its arrival, the
// acknowledgement latency, and the broker's CPU per record over the measured window (/proc). Compare with RabbitMQ's
// whole path in `npm run bench -- peers` run just before or after (PERF_RESULT.md, round 9). Measure on a warm
// broker: in the first minute after `stack:up` its JIT is still compiling, and latency and CPU read several times higher.
//
// npm run bench -- kafka-floor [--rates 500,1000] [--duration 10] [--warmup 5] [--linger 0] [--runs 1]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readSetting } from '../src/config.js';
import { ensureKafkaJars, findJava, jarsClassPath, requestedKafkaVersion } from '../scripts/stack/kafka-node.mjs';
import { CpuSampler, groups } from './driver/cpu.js';
import { Flags, appendResults, commandLine, fmt, printTable, progress } from './lib.js';

const SOURCE = join(fileURLToPath(new URL('.', import.meta.url)), 'kafka-floor', 'KafkaFloor.java');

interface FloorResult {
  rate: number;
  lingerMs: number;
  records: number;
  received: number;
  lost: number;
  duplicates: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
  clientCpuUsPerRecord: number;
  brokerCpuUsPerRecord?: number;
}

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['rates', 'duration', 'warmup', 'linger', 'runs'], []);
  const p = {
    rates: f.list('rates', [500, 1000]),
    durationS: f.num('duration', 10, 1),
    warmupS: f.num('warmup', 5),
    lingerMs: f.int('linger', 0, 0),
    runs: f.int('runs', 1),
  };
  const version = requestedKafkaVersion();
  ensureKafkaJars({ version, log: progress });
  const java = findJava(version);
  const bootstrap = readSetting('KAFKA_BROKERS')[0]!;
  const rows: FloorResult[] = [];
  for (let r = 0; r < p.runs; r++) {
    for (const rate of p.rates) {
      progress(`kafka-floor: ${rate} records/s for ${p.warmupS} + ${p.durationS} s (run ${r + 1} of ${p.runs})`);
      rows.push(await probe(java, version, bootstrap, rate, p));
    }
  }
  printTable(
    'kafka-floor: the Kafka leg alone (Java client, no app), ms from intended send to arrival',
    ['rate rec/s', 'linger ms', 'lost', 'dup', 'p50', 'p90', 'p99', 'p99.9', 'max', 'ack p50', 'ack p99', 'client µs/rec', 'broker µs/rec'],
    rows.map((x) => [
      x.rate,
      x.lingerMs,
      x.lost,
      x.duplicates,
      x.p50Ms,
      x.p90Ms,
      x.p99Ms,
      x.p999Ms,
      x.maxMs,
      x.ackP50Ms,
      x.ackP99Ms,
      fmt(x.clientCpuUsPerRecord),
      fmt(x.brokerCpuUsPerRecord ?? NaN),
    ]),
  );
  appendResults('kafka-floor', { ...p, kafkaVersion: version, command: commandLine('kafka-floor', args) }, rows as unknown as Record<string, unknown>[]);
}

/** One run of the Java probe at `rate`; the broker's CPU is read over the window the probe marks as measured. */
async function probe(
  java: string,
  version: string,
  bootstrap: string,
  rate: number,
  p: { durationS: number; warmupS: number; lingerMs: number },
): Promise<FloorResult> {
  const args = [
    '-Xmx256m',
    '-cp',
    jarsClassPath(version),
    SOURCE,
    bootstrap,
    String(rate),
    String(p.warmupS),
    String(p.durationS),
    '6',
    String(p.lingerMs),
    '100',
  ];
  const child = spawn(java, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const broker = new CpuSampler([groups.kafka()]);
  let result: FloorResult | null = null;
  let brokerSeconds = NaN;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line === 'measure-start') broker.begin();
    else if (line === 'measure-end') brokerSeconds = broker.end().groups[0]!.cpuSeconds;
    else if (line.startsWith('{')) result = JSON.parse(line) as FloorResult;
  }
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
  if (code !== 0 || !result) throw new Error(`KafkaFloor.java exited with ${code}: ${stderr.join('').slice(-2000)}`);
  return { ...result, brokerCpuUsPerRecord: Number(((brokerSeconds * 1e6) / result.records).toFixed(1)) };
}
