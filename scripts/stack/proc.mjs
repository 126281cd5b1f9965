// Process and file helpers shared by the local stack's modules (PostgreSQL, Redis, Kafka): pids, polling,
// commands, the .stack folder and its record of what `stack up` started. Plain Node ESM (runs before any build).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STACK_DIR = path.join(ROOT, '.stack');
const STARTED_FILE = path.join(STACK_DIR, 'started.json');

/** An error whose message is meant for the user as is (no stack trace needed). */
export class StackError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StackError';
  }
}

export const defaultLog = (msg) => console.log(`[stack] ${msg}`);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves true when a TCP connection to host:port succeeds within timeoutMs. */
export function tcpCheck(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Absolute path of an executable on PATH, or null. */
export function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export function requireTool(cmd, why) {
  const p = which(cmd);
  if (!p) throw new StackError(`\`${cmd}\` is not on PATH — it is needed ${why}`);
  return p;
}

export function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  // A zombie (exited, not yet reaped) counts as dead.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    /* no procfs: trust kill(0) */
  }
  return true;
}

export function pidCmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

/** pid is alive and (where /proc tells) its command line contains `needle` — guards against pid reuse. */
export function pidIs(pid, needle) {
  if (!pidAlive(pid)) return false;
  const cmd = pidCmdline(pid);
  return cmd === null || cmd.includes(needle);
}

export function readPidFile(file) {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return null;
  }
}

export function readStarted() {
  try {
    return JSON.parse(fs.readFileSync(STARTED_FILE, 'utf8'));
  } catch {
    return {};
  }
}

export function updateStarted(service, value) {
  fs.mkdirSync(STACK_DIR, { recursive: true });
  const s = readStarted();
  if (value === undefined) delete s[service];
  else s[service] = value;
  fs.writeFileSync(STARTED_FILE, JSON.stringify(s, null, 2) + '\n');
}

/** Runs a command to completion, capturing output; throws StackError with the output on failure. */
export function run(cmd, args, { what, cwd = ROOT, env = process.env, timeoutMs } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new StackError(`${what ?? cmd} failed to run: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new StackError(`${what ?? cmd} failed (exit ${r.status ?? r.signal}):\n${out}`);
  }
  return r.stdout ?? '';
}

/** Polls `check` (async → truthy) until it succeeds or the deadline passes. Returns the value or null. */
export async function pollUntil(check, { timeoutMs, intervalMs = 250, onTick, tickEveryMs = 5000 }) {
  const start = Date.now();
  let nextTick = start + tickEveryMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    const now = Date.now();
    if (now - start >= timeoutMs) return null;
    if (onTick && now >= nextTick) {
      onTick(now - start);
      nextTick += tickEveryMs;
    }
    await sleep(intervalMs);
  }
}

/** SIGTERM, wait up to termWaitMs, then SIGKILL. Resolves 'gone' | 'terminated' | 'killed'. */
export async function stopPid(pid, { termWaitMs = 30_000, log, name = `pid ${pid}` } = {}) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (e) {
    if (e.code === 'ESRCH') return 'gone';
    throw e;
  }
  const gone = await pollUntil(async () => !pidAlive(pid), {
    timeoutMs: termWaitMs,
    intervalMs: 200,
    onTick: log ? (ms) => log(`${name}: waiting for exit (${Math.round(ms / 1000)} s)`) : undefined,
  });
  if (gone) return 'terminated';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* exited meanwhile */
  }
  await pollUntil(async () => !pidAlive(pid), { timeoutMs: 5000, intervalMs: 100 });
  return 'killed';
}
