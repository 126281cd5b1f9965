// Helpers of the operations tests: the Prometheus tool binaries (installed when missing, never skipped),
// running them, and a Prometheus server of our own on a free port with its own data directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePromtool } from '../../scripts/promtool.mjs';
import { freePort, waitFor, withDeadline } from '../support/cluster.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const rel = (p: string): string => path.join(ROOT, p);
export const read = (p: string): string => fs.readFileSync(rel(p), 'utf8');

let tools: ReturnType<typeof ensurePromtool> | null = null;
/** promtool, prometheus and amtool; installs Debian's packages when missing; throws (the test fails) when impossible. */
export function promTools(): ReturnType<typeof ensurePromtool> {
  tools ??= ensurePromtool({ log: (m) => console.log(`[promtool] ${m}`) });
  return tools;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  output: string;
}

export function run(bin: string, args: string[], opts: { input?: string; cwd?: string } = {}): RunResult {
  const r = spawnSync(bin, args, { encoding: 'utf8', input: opts.input, cwd: opts.cwd ?? ROOT, timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}${r.stderr}` };
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

export interface PromServer {
  url: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  /** GET /api/v1/<path> with query parameters; throws on a non-success answer. */
  api<T = unknown>(apiPath: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts the Debian `prometheus` binary with the config `configFor(port)` returns (written into a fresh
 * directory with `files`, so relative rule_files resolve there) on a free loopback port and its own TSDB
 * directory, and waits for /-/ready.
 */
export async function startPrometheus(configFor: (port: number) => string, files: Record<string, string> = {}): Promise<PromServer> {
  const { prometheus } = promTools();
  const dir = tmpDir('chat-prom');
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), configFor(port));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const log = fs.openSync(path.join(dir, 'prometheus.log'), 'a');
  const proc = spawn(
    prometheus,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  process.once('exit', () => proc.exitCode === null && proc.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const server: PromServer = {
    url,
    port,
    dataDir,
    proc,
    async api<T>(apiPath: string, params: Record<string, string> = {}): Promise<T> {
      const res = await fetch(`${url}/api/v1/${apiPath}?${new URLSearchParams(params)}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`prometheus ${apiPath} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
      return body.data;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await withDeadline(exited, 15_000, 'prometheus stop').catch(() => proc.kill('SIGKILL'));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`prometheus exited ${proc.exitCode}: ${fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8').slice(-2000)}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      30_000,
      'prometheus ready',
      200,
    );
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
