// Starts and stops the Socket.IO reference server (bench/peers/socketio-server.ts) as a child process.
import { fork } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, freePort, withDeadline } from '../../test/support/cluster.js';
import { killOnExit } from '../driver/processes.js';

export interface PeerServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startSocketIoServer(): Promise<PeerServer> {
  const port = await freePort();
  const self = fileURLToPath(import.meta.url);
  const script = fileURLToPath(new URL(`./socketio-server${extname(self)}`, import.meta.url));
  mkdirSync(`${ROOT}.stack/test-logs`, { recursive: true });
  const log = createWriteStream(`${ROOT}.stack/test-logs/bench-socketio-${process.pid}.log`);
  const proc = killOnExit(fork(script, [], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      proc.on('message', (m: { type?: string }) => m.type === 'listening' && resolve());
      void exited.then(() => reject(new Error(`socket.io reference server exited before listening (log .stack/test-logs/bench-socketio-${process.pid}.log)`)));
    }),
    60_000,
    'socket.io reference server start',
  );
  return {
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid!,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
