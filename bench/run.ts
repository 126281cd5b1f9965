// `npm run bench -- <scenario> [--flags]`: dispatches to bench/<scenario>.ts, which exports run(args).
const SCENARIOS: Record<string, { file: string; about: string }> = {
  codec: { file: './codec.js', about: 'STOMP codec: our decoder/encoder vs @stomp/stompjs (no servers)' },
  fanout: { file: './fanout.js', about: 'claims 1+2: rooms of 10 on the load driver, open-loop rates, 1 vs 2 instances, CPU per delivery' },
  peers: { file: './peers.js', about: 'same driver and load against ours, RabbitMQ Web-STOMP and a Socket.IO reference server' },
  capacity: { file: './capacity.js', about: 'the peers load stepped up until p99 > 100 ms or a loss: ours x1 and x2, RabbitMQ, Socket.IO' },
  'connect-storm': { file: './connect-storm.js', about: '1,000 simultaneous WebSocket STOMP CONNECTs against one instance' },
  idle: { file: './idle.js', about: '20,000 idle STOMP connections with heart-beats: server RSS per connection, kept alive' },
  'kafka-path': { file: './kafka-path.js', about: 'the Kafka path alone in one process: append latency, CPU per record, produce requests, offset commits' },
  'kafka-floor': { file: './kafka-floor.js', about: "the Kafka leg alone with Kafka's Java client (no app): the latency floor of every message's path" },
  partitioning: { file: './partitioning.js', about: 'claim 1 comparison: Kafka key=roomId vs key=userId, inversions per 1,000 (kafkajs only)' },
  reads: { file: './reads.js', about: 'claim 3: 50 members marking read concurrently (REST + STOMP), exact unread counts' },
  resume: { file: './resume.js', about: 'claim 5: many clients drop, reconnect to the other instance with since-seq, 0 missing / 0 duplicated' },
  fuzz: { file: './fuzz.js', about: 'security: >= 10 million random and mutated STOMP frames (TCP + WebSocket) at one instance; crashes, RSS, bystanders p99' },
  profile: { file: './profile.js', about: 'where the server CPU goes: V8 --cpu-prof profiles of a bench run by library, folders side by side' },
  report: { file: './report.js', about: 'regenerates the PERF_RESULT.md sections and bench/charts/*.svg from bench/results/*.jsonl' },
};

function usage(): string {
  const names = Object.entries(SCENARIOS).map(([name, s]) => `  ${name.padEnd(14)} ${s.about}`);
  return `usage: npm run bench -- <scenario> [--flags]\n\nscenarios:\n${names.join('\n')}\n\nFlags are listed at the top of each bench/<scenario>.ts.\n`;
}

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const scenario = name === undefined ? undefined : SCENARIOS[name];
  if (!scenario) {
    process.stderr.write(name === undefined || name === '--help' || name === '-h' ? usage() : `unknown scenario "${name}"\n\n${usage()}`);
    process.exit(2);
  }
  // Servers run the compiled build (as `npm start` does): compile first, incrementally.
  if (!['codec', 'report', 'kafka-path', 'kafka-floor', 'profile'].includes(name!)) {
    const { default: build } = await import('../test/support/build.js');
    build();
  }
  const mod = (await import(scenario.file)) as { run(args: string[]): Promise<void> };
  await mod.run(args);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
