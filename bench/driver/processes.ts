// Child processes of a bench (driver workers, reference servers) never outlive it: SIGKILLed at exit, and
// Ctrl-C / SIGTERM end the bench (after withServers, if present, stopped our servers). Also: re-running the
// bench under a higher open-files limit, inherited by every server and worker it starts.
import { spawn, type ChildProcess } from 'node:child_process';
import { runningServerCount } from '../lib.js';
import { openFilesLimit } from './cpu.js';

const children = new Set<ChildProcess>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      // With servers running, bench/lib.ts' handler stops them (SIGTERM, then SIGKILL) and exits.
      if (runningServerCount() === 0) process.exit(130);
    });
  }
}

/** Tracks a child process: SIGKILLed if still running when the bench exits or is interrupted. */
export function killOnExit(child: ChildProcess): ChildProcess {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Makes sure this process (and so every server and worker it spawns) may open `needed` files. When the soft
 * limit is lower, re-runs the same command under `sh -c 'ulimit -n <needed>; exec …'` (raising the hard limit
 * needs root or CAP_SYS_RESOURCE; otherwise the hard limit is used), waits for it and exits with its code.
 * Returns the limit in force when no re-run was needed or possible.
 */
export async function ensureOpenFiles(needed: number): Promise<number> {
  const current = openFilesLimit();
  if (!(current < needed) || process.env.BENCH_NOFILE_RERUN === '1') return current;
  process.stdout.write(`open-files limit ${current} < ${needed}: re-running under ulimit -n ${needed}\n`);
  const child = spawn(
    '/bin/sh',
    ['-c', `ulimit -n ${needed} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, BENCH_NOFILE_RERUN: '1' } },
  );
  // The re-run gets Ctrl-C itself (same process group) and cleans up; this process only waits for it.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  process.exit(code);
}
