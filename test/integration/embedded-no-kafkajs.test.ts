// The embedded process loads no Kafka client: main.ts opens only its mode's adapters (the embedded log places records
// with src/log/partitioning.ts, not the Kafka adapter). A preload counts kafkajs modules in the module cache when the
// server exits; the cluster process is the control (it must count some, or the count proves nothing).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, startServer } from '../support/cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'chat-no-kafkajs-'));
const reporter = join(dir, 'report-modules.mjs');
writeFileSync(
  reporter,
  `import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => process.stderr.write('KAFKAJS_MODULES=' + Object.keys(cache).filter((k) => k.includes('/node_modules/kafkajs/')).length + '\\n'));
`,
);

/** Starts a server of the mode with the reporter, stops it gracefully, and answers how many kafkajs modules it had. */
async function kafkajsModules(env: Record<string, string>): Promise<number> {
  const previous = process.env.SERVER_NODE_ARGS;
  process.env.SERVER_NODE_ARGS = `--import ${reporter}`;
  try {
    const server = await startServer({ env, instanceId: `no-kafkajs-${env.MODE}-${process.pid}` });
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
    await new Promise((r) => setTimeout(r, 200)); // the log pipe flushes
    const log = readFileSync(`${ROOT}.stack/test-logs/${server.instanceId}.log`, 'utf8');
    const m = /KAFKAJS_MODULES=(\d+)/.exec(log);
    if (!m) throw new Error(`the reporter printed nothing:\n${log.slice(-2000)}`);
    return Number(m[1]);
  } finally {
    if (previous === undefined) delete process.env.SERVER_NODE_ARGS;
    else process.env.SERVER_NODE_ARGS = previous;
  }
}

describe('which Kafka client each mode loads', () => {
  it('MODE=embedded: none', async () => {
    expect(await kafkajsModules({ MODE: 'embedded', DATA_DIR: join(dir, 'data'), STOMP_TCP_PORT: '0' })).toBe(0);
  }, 120_000);

  it('MODE=cluster (the control): kafkajs is loaded', async () => {
    expect(await kafkajsModules({ MODE: 'cluster' })).toBeGreaterThan(10);
  }, 120_000);
});
