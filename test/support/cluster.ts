// Test and bench harness: real server processes (the compiled dist/src/main.js, as `npm start` runs it) against the
// real services, in cluster mode.
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOG_DIR = `${ROOT}.stack/test-logs`;

export interface ServerProc {
  instanceId: string;
  port: number;
  tcpPort: number;
  baseUrl: string;
  wsUrl: string;
  proc: ChildProcess;
  /** SIGTERM and wait for exit (graceful). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

let counter = 0;
const children = new Set<ChildProcess>();
// A test that fails or times out must not leave server processes behind.
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/**
 * The node flags `npm start` and the image's CMD run the server with (test/ops/dockerfile.test.ts holds them
 * equal): V8's young generation capped at 2 x 16 MB semi-spaces instead of up to 2 x 64 MB (README, "Node's young
 * generation").
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=16'];

export interface StartOptions {
  roles?: string;
  env?: Record<string, string>;
  instanceId?: string;
  /** Wait until /readyz answers 200 (gateway roles) — default true. */
  waitReady?: boolean;
}

export async function startServer(opts: StartOptions = {}): Promise<ServerProc> {
  const port = await freePort();
  const tcpPort = await freePort();
  const instanceId = opts.instanceId ?? `t${process.pid}-${++counter}`;
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = createWriteStream(`${LOG_DIR}/${instanceId}.log`);
  // SERVER_NODE_ARGS adds node flags to server processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a bench.
  const nodeArgs = (process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...nodeArgs, '--enable-source-maps', 'dist/src/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      MODE: 'cluster',
      NODE_ENV: 'test',
      PORT: String(port),
      STOMP_TCP_PORT: String(tcpPort),
      HOST: '127.0.0.1',
      INSTANCE_ID: instanceId,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      // Tests and benches sign up thousands of users from 127.0.0.1; the default (5, then 10 an hour per address)
      // is for public deployments. Tests of the sign-up limit pass their own.
      SIGNUP_BURST_PER_IP: '1000000',
      SIGNUP_PER_SEC_PER_IP: '100000',
      // They also read rooms back far more than a client would (REST history polled until a condition holds, replay
      // floods that measure memory); the replay budget's own test passes a small one.
      REPLAY_MESSAGES_PER_MIN: '100000000',
      ...(opts.roles ? { ROLES: opts.roles } : {}),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  proc.stdout!.pipe(logFile);
  proc.stderr!.pipe(logFile);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const started = new Promise<void>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('chat server started')) resolve();
      if (buf.length > 100_000) buf = buf.slice(-1000);
    });
    void exited.then((code) => reject(new Error(`server ${instanceId} exited with ${code} before starting (log: ${LOG_DIR}/${instanceId}.log)`)));
  });
  await withDeadline(started, 60_000, `server ${instanceId} start`);
  const baseUrl = `http://127.0.0.1:${port}`;
  const server: ServerProc = {
    instanceId,
    port,
    tcpPort,
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    proc,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      try {
        return await withDeadline(exited, 30_000, `server ${instanceId} stop`);
      } catch (err) {
        proc.kill('SIGKILL');
        throw err;
      }
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
  return server;
}

export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Polls `cond` every `everyMs` until it returns a truthy value (an exception counts as not yet); fails naming `what`
 * (a function: computed at the time of failure, so it can say what was seen) and the last exception once `ms` have passed.
 */
export async function waitFor<T>(cond: () => T | Promise<T>, ms: number, what: string | (() => string), everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const name = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${ms} ms waiting for ${name}${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

export { sleep };
