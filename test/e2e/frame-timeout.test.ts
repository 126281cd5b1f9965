// A connected client that starts a frame and never finishes it is cut off (FRAME_TIMEOUT_MS), even
// with heart-beats off; a frame that completes in time is not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../support/api.js';
import { startServer, type ServerProc } from '../support/cluster.js';
import { RawConn } from '../support/raw.js';

describe('incomplete frames', () => {
  let server: ServerProc;
  let api: Api;

  beforeAll(async () => {
    server = await startServer({ env: { FRAME_TIMEOUT_MS: '1500', HEARTBEAT_MS: '0' } });
    api = new Api(server.baseUrl);
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function connected(token: string): Promise<RawConn> {
    const c = await RawConn.tcp(server.tcpPort);
    await c.connect(token, { 'heart-beat': '0,0' });
    return c;
  }

  it('a half-sent frame is cut off with ERROR bad-frame (and its receipt-id) after the frame timeout', async () => {
    const [a, b] = await api.pair('half');
    const roomId = await api.group(a, [b]);
    const c = await connected(a.token);
    const t0 = Date.now();
    c.write(`SEND\ndestination:/topic/rooms.${roomId}\nreceipt:r-half\n`);
    await c.closed;
    const ms = Date.now() - t0;
    expect(c.frames.map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
    expect(c.frames[1]!.headers.message).toBe('bad-frame');
    expect(c.frames[1]!.headers['receipt-id']).toBe('r-half');
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(6000);
  });

  it('a frame trickling in but completed within the timeout is accepted', async () => {
    const [a, b] = await api.pair('trickle');
    const roomId = await api.group(a, [b]);
    const c = await connected(a.token);
    const frame = `SEND\ndestination:/topic/rooms.${roomId}\nreceipt:r-slow\n\nslow but complete\0`;
    for (let i = 0; i < frame.length; i += 8) {
      c.write(frame.slice(i, i + 8));
      await new Promise((r) => setTimeout(r, 1000 / (frame.length / 8)));
    }
    await c.receipt('r-slow', 20_000);
    c.destroy();
  });
});
