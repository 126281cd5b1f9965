// RabbitMQ Web-STOMP as a peer: enables the rabbitmq_web_stomp plugin when its port is closed (idempotent;
// enabling it also enables rabbitmq_stomp, which listens on 61613 — our default STOMP_TCP_PORT) and waits for
// ws://127.0.0.1:15674/ws; `restore()` disables again what it enabled, leaving the machine as it found it.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { waitFor } from '../../test/support/cluster.js';

export const RABBIT_WEB_STOMP_URL = 'ws://127.0.0.1:15674/ws';
const PORT = 15674;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Makes RabbitMQ Web-STOMP reachable; returns its URL. Throws with the tool's output when it cannot. */
export async function ensureRabbitWebStomp(log: (s: string) => void): Promise<{ url: string; restore(): Promise<void> }> {
  if (await portOpen(PORT)) return { url: RABBIT_WEB_STOMP_URL, restore: async () => {} };
  if (!(await portOpen(5672))) throw new Error('RabbitMQ is not running on 127.0.0.1:5672');
  log('enabling rabbitmq_web_stomp (rabbitmq-plugins enable rabbitmq_web_stomp)');
  try {
    await promisify(execFile)('rabbitmq-plugins', ['enable', 'rabbitmq_web_stomp'], { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`rabbitmq-plugins enable rabbitmq_web_stomp failed: ${e.stderr || e.message}`);
  }
  await waitFor(() => portOpen(PORT), 60_000, `RabbitMQ Web-STOMP on 127.0.0.1:${PORT}`, 250);
  return {
    url: RABBIT_WEB_STOMP_URL,
    restore: async () => {
      log('disabling rabbitmq_web_stomp and rabbitmq_stomp again (they were off before this bench)');
      await promisify(execFile)('rabbitmq-plugins', ['disable', 'rabbitmq_web_stomp', 'rabbitmq_stomp'], { timeout: 120_000 }).catch((err: Error) =>
        log(`could not disable the RabbitMQ STOMP plugins: ${err.message}`),
      );
    },
  };
}
