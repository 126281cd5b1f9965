// The runtime stage of compose/app.Dockerfile reproduced without Docker: a fresh folder laid out as the image's
// /app (package.json, the compiled dist/ that tsconfig.build.json produces — vitest's globalSetup has just built
// it —, migrations/, web/; node_modules linked) and no src/, then the commands the image and compose run: the
// migrate service, the CMD, the HEALTHCHECK one-liner, and a SIGTERM as tini forwards it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, waitFor, withDeadline } from '../support/cluster.js';
import { execForm, parseDockerfile } from './dockerfile-lint.js';
import { ROOT, read, tmpDir } from './tools.js';

const stages = parseDockerfile(read('compose/app.Dockerfile'));
const final = stages[stages.length - 1]!;
const cmd = execForm(final.instructions.find((i) => i.keyword === 'CMD')!.args)!;
const healthcheck = execForm(final.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.args.replace(/^(--[a-z-]+=\S+\s+)*CMD\s+/, ''))!;
const compose = parse(read('compose/docker-compose.yml'), { merge: true }) as {
  services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
};
const appEnv = compose.services['app-1']!.environment!;

describe('the image layout, run without Docker', () => {
  let app: string;
  const env = (extra: Record<string, string>) => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    // the image's ENV and compose's app environment, pointed at the local stack
    NODE_ENV: 'production',
    MODE: appEnv.MODE!,
    JWT_SECRET: appEnv.JWT_SECRET!,
    LOG_LEVEL: 'info',
    ...(process.env.KAFKA_BROKERS ? { KAFKA_BROKERS: process.env.KAFKA_BROKERS } : {}),
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...extra,
  });

  beforeAll(() => {
    app = tmpDir('chat-image');
    // exactly what the runtime stage copies: package*.json, dist (from the build stage), migrations, web
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, f), path.join(app, f));
    for (const d of ['migrations', 'web']) fs.cpSync(path.join(ROOT, d), path.join(app, d), { recursive: true });
    for (const d of ['src', 'protocol']) fs.cpSync(path.join(ROOT, 'dist', d), path.join(app, 'dist', d), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
    // CMD is node, its flags, then the entry point.
    expect(fs.existsSync(path.join(app, cmd.at(-1)!)), `${cmd.at(-1)} compiled`).toBe(true);
  });
  afterAll(() => {
    if (app) fs.rmSync(app, { recursive: true, force: true });
  });

  it('the migrate service applies migrations/ from the compiled CLI', () => {
    const argv = compose.services.migrate!.command!;
    const r = spawnSync(argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1), { cwd: app, env: env({}), encoding: 'utf8', timeout: 60_000 });
    expect(`${r.stdout}${r.stderr}`).toMatch(/\[migrate\] \d+ applied, \d+ already applied/);
    expect(r.status).toBe(0);
  });

  it('CMD starts the server from dist/, the HEALTHCHECK turns healthy on /readyz, GET / serves web/, SIGTERM stops it cleanly', async () => {
    const port = await freePort();
    const tcpPort = await freePort();
    const instanceId = `ops-image-${process.pid}`;
    const metricsPort = await freePort();
    // compose's METRICS_PORT, on a free port; loopback (compose binds it to the container network)
    const e = env({
      PORT: String(port),
      STOMP_TCP_PORT: String(tcpPort),
      HOST: '127.0.0.1',
      INSTANCE_ID: instanceId,
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: '127.0.0.1',
    });
    expect(cmd[0]).toBe('node');
    const logPath = path.join(app, 'server.log');
    const log = fs.openSync(logPath, 'a');
    const proc = spawn(process.execPath, cmd.slice(1), { cwd: app, env: e, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      const probe = () => spawnSync(process.execPath, healthcheck.slice(1), { env: e, timeout: 5000 }).status;
      await waitFor(
        () => {
          if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}: ${fs.readFileSync(logPath, 'utf8').slice(-2000)}`);
          return probe() === 0;
        },
        60_000,
        'the HEALTHCHECK command to succeed',
        500,
      );
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const home = await fetch(`http://127.0.0.1:${port}/`);
      expect(home.status).toBe(200);
      expect(home.headers.get('content-type')).toMatch(/text\/html/);
      // production: /metrics on its own port, not on the public one
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toContain(`instance_id="${instanceId}"`);
      // no TypeScript at run time: the process runs compiled files only
      expect(fs.existsSync(path.join(app, 'src'))).toBe(false);
      // /readyz can answer 200 while the consumer groups are still joining; the SIGTERM handler is installed
      // once start-up is complete ("chat server started")
      await waitFor(() => fs.readFileSync(logPath, 'utf8').includes('chat server started'), 60_000, 'start-up complete', 200);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGTERM');
    }
    expect(await withDeadline(exited, 30_000, 'graceful stop')).toBe(0);
    // with the server gone the HEALTHCHECK fails (exit 1), as Docker needs it to
    expect(spawnSync(process.execPath, healthcheck.slice(1), { env: e, timeout: 5000 }).status).toBe(1);
  });
});
