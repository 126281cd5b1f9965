// loadConfig against explicit environments: the defaults of API.md's configuration table, a ConfigError naming
// the variable for every bad value, JWT_SECRET rules per NODE_ENV — and the real process stopping with exit 1
// and a readable message when started with a bad value.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, readSetting, SETTING_NAMES, type SettingName } from './config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The ConfigError thrown for `env`; fails the test if loadConfig accepts it. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('defaults match the configuration table of API.md', () => {
    const c = loadConfig({ NODE_ENV: 'test' });
    expect(c.mode).toBe('embedded');
    expect(loadConfig({}).env).toBe('development');
    expect(c.connectTimeoutMs).toBe(10_000);
    expect(c.metricsToken).toBeNull();
    expect(c.dataDir).toMatch(/[/\\]data$/);
    expect(c.port).toBe(8080);
    expect(c.stompTcpPort).toBe(61613);
    expect(c.host).toBe('0.0.0.0');
    expect(c.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/chat');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.redisSentinels).toBeNull();
    expect(c.redisSentinelName).toBe('chat');
    expect(c.redisCommandTimeoutMs).toBe(10_000);
    expect(c.redisWaitTimeoutMs).toBe(100);
    expect(c.kafkaBrokers).toEqual(['127.0.0.1:9092']);
    expect([...c.roles].sort()).toEqual(['broadcast', 'gateway', 'notify', 'persist', 'receipts']);
    expect(c.logLevel).toBe('info');
    expect(c.instanceId).toMatch(/:8080$/);
    // Sign-ups per address: a small burst and a slow refill (10 an hour), unless SIGNUP_PER_SEC_PER_IP says otherwise.
    expect(c.limits.replayMessagesPerMin).toBe(10_000);
    expect(c.accounts.signupBurstPerIp).toBe(5);
    expect(c.accounts.signupPerSecPerIp).toBeCloseTo(10 / 3600, 9);
    expect(loadConfig({ SIGNUP_PER_HOUR_PER_IP: '60' }).accounts.signupPerSecPerIp).toBeCloseTo(1 / 60, 9);
    expect(loadConfig({ SIGNUP_PER_SEC_PER_IP: '0.5', SIGNUP_PER_HOUR_PER_IP: '60' }).accounts.signupPerSecPerIp).toBe(0.5);
  });

  it('reads explicit values', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 'a-production-secret-of-enough-length',
      PORT: '9000',
      STOMP_TCP_PORT: '9001',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgresql://u:p@db:5433/other',
      REDIS_URL: 'rediss://cache:6380',
      KAFKA_BROKERS: 'k1:9092, k2:9093',
      ROLES: 'gateway,persist',
      INSTANCE_ID: 'node-a',
      LOG_LEVEL: 'debug',
    });
    expect(c.env).toBe('production');
    expect(c.jwtSecret).toBe('a-production-secret-of-enough-length');
    expect(c.port).toBe(9000);
    expect(c.stompTcpPort).toBe(9001);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databaseUrl).toBe('postgresql://u:p@db:5433/other');
    expect(c.redisUrl).toBe('rediss://cache:6380');
    expect(c.kafkaBrokers).toEqual(['k1:9092', 'k2:9093']);
    expect([...c.roles].sort()).toEqual(['gateway', 'persist']);
    expect(c.instanceId).toBe('node-a');
    expect(c.logLevel).toBe('debug');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['STOMP_TCP_PORT', 'x'],
    ['KAFKA_BROKERS', 'nohost'],
    ['ROLES', 'gateway,bogus'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['REDIS_SENTINELS', 'sentinel-without-port'],
    ['REDIS_SENTINELS', '127.0.0.1:26390,127.0.0.1:99999'],
    ['REDIS_SENTINELS', ' , '],
    ['REDIS_SENTINEL_NAME', 'has space'],
    ['REDIS_COMMAND_TIMEOUT_MS', '10'],
    ['REDIS_WAIT_TIMEOUT_MS', '-1'],
    ['LOG_LEVEL', 'loud'],
    ['MODE', 'distributed'],
    ['CONNECT_TIMEOUT_MS', '0'],
    ['METRICS_TOKEN', 'short'],
    ['MAX_TRANSACTIONS', '-2'],
    ['KAFKA_GROUP_PREFIX', 'a b'],
  ])('%s=%s throws a ConfigError naming %s', (name, value) => {
    const err = configError({ NODE_ENV: 'test', [name]: value });
    expect(err.message).toContain(name);
  });

  it('a ConfigError names every bad variable at once', () => {
    const err = configError({ NODE_ENV: 'test', PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(err.message).toContain('PORT');
    expect(err.message).toContain('LOG_LEVEL');
  });

  it('JWT_SECRET is required in production, not in test or development (NODE_ENV defaults to development)', () => {
    expect(configError({ NODE_ENV: 'production' }).message).toContain('JWT_SECRET');
    expect(configError({ NODE_ENV: 'production', MODE: 'embedded' }).message).toContain('JWT_SECRET');
    for (const env of [{}, { NODE_ENV: 'test' }, { NODE_ENV: 'development' }]) {
      // No secret given: the embedded mode generates one in its data folder, cluster mode uses DEV_JWT_SECRET.
      expect(loadConfig(env).jwtSecret).toBeNull();
    }
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-enough-length' }).jwtSecret).toBe('a-production-secret-of-enough-length');
  });

  it('MODE selects cluster or embedded; DATA_DIR resolves to an absolute path', () => {
    expect(loadConfig({ MODE: 'cluster' }).mode).toBe('cluster');
    const c = loadConfig({ DATA_DIR: 'some/dir' });
    expect(c.dataDir.startsWith('/')).toBe(true);
    expect(c.dataDir.endsWith('some/dir')).toBe(true);
  });

  it('/metrics: open on PORT outside production; in production on METRICS_PORT (9464, loopback) and on PORT only with METRICS_TOKEN', () => {
    const dev = loadConfig({});
    expect([dev.metricsOnPublicPort, dev.metricsPort, dev.metricsHost]).toEqual([true, 0, '127.0.0.1']);
    const prod = { NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-enough-length' };
    const p = loadConfig(prod);
    expect([p.metricsOnPublicPort, p.metricsPort, p.metricsHost]).toEqual([false, 9464, '127.0.0.1']);
    const withToken = loadConfig({ ...prod, METRICS_TOKEN: 'a-metrics-token-of-enough-length', METRICS_PORT: '0', METRICS_HOST: '0.0.0.0' });
    expect([withToken.metricsOnPublicPort, withToken.metricsPort, withToken.metricsHost]).toEqual([true, 0, '0.0.0.0']);
    expect(loadConfig({ METRICS_PORT: '9100' }).metricsPort).toBe(9100);
    expect(configError({ METRICS_PORT: '70000' }).message).toMatch(/METRICS_PORT/);
  });

  it('REDIS_SENTINELS: a host:port list and a primary name (REDIS_URL stays parsed but unused)', () => {
    const c = loadConfig({ REDIS_SENTINELS: '127.0.0.1:26390, sentinel-b:26391,[::1]:26392', REDIS_SENTINEL_NAME: 'chat-ha', REDIS_WAIT_TIMEOUT_MS: '0' });
    expect(c.redisSentinels).toEqual([
      { host: '127.0.0.1', port: 26390 },
      { host: 'sentinel-b', port: 26391 },
      { host: '::1', port: 26392 },
    ]);
    expect(c.redisSentinelName).toBe('chat-ha');
    expect(c.redisWaitTimeoutMs).toBe(0);
  });

  it('STOMP_TCP_PORT=0 turns the TCP transport off and is allowed', () => {
    expect(loadConfig({ NODE_ENV: 'test', STOMP_TCP_PORT: '0' }).stompTcpPort).toBe(0);
  });

  it('operations console: ADMIN_EMAILS lower-cased and trimmed (none by default), stats interval, instance timeout, history', () => {
    const d = loadConfig({});
    expect(d.ops).toEqual({ adminEmails: new Set(), statsIntervalMs: 1000, instanceTimeoutMs: 5000, historySeconds: 300 });
    const c = loadConfig({
      ADMIN_EMAILS: ' Boss@Example.com, ops@example.com ,',
      OPS_STATS_INTERVAL_MS: '2000',
      OPS_INSTANCE_TIMEOUT_MS: '4000',
      OPS_HISTORY_SECONDS: '600',
    });
    expect(c.ops).toEqual({
      adminEmails: new Set(['boss@example.com', 'ops@example.com']),
      statsIntervalMs: 2000,
      instanceTimeoutMs: 4000,
      historySeconds: 600,
    });
    expect(configError({ ADMIN_EMAILS: 'boss@example.com,not-an-email' }).message).toContain('ADMIN_EMAILS');
    expect(configError({ OPS_STATS_INTERVAL_MS: '3000', OPS_INSTANCE_TIMEOUT_MS: '5000' }).message).toContain('OPS_INSTANCE_TIMEOUT_MS');
    expect(configError({ OPS_STATS_INTERVAL_MS: '50' }).message).toContain('OPS_STATS_INTERVAL_MS');
    expect(configError({ OPS_HISTORY_SECONDS: '5' }).message).toContain('OPS_HISTORY_SECONDS');
  });

  it('NOTIFY_WEBHOOK_*: off by default; an http(s) URL, a secret of 16+, sane defaults, a signed webhook required in production', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).webhook).toBeNull();
    expect(
      loadConfig({ NODE_ENV: 'test', NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/chat', NOTIFY_WEBHOOK_SECRET: 'whsec-0123456789abcdef' }).webhook,
    ).toEqual({
      url: 'https://hooks.example.com/chat',
      secret: 'whsec-0123456789abcdef',
      windowMs: 2000,
      maxMessages: 50,
      timeoutMs: 10_000,
      concurrency: 8,
      backoffMs: 1000,
      backoffMaxMs: 60_000,
      giveUpMs: 3_600_000,
    });
    const url = 'http://127.0.0.1:9/hook';
    expect(loadConfig({ NODE_ENV: 'development', NOTIFY_WEBHOOK_URL: url }).webhook?.secret).toBeNull(); // unsigned outside production
    for (const bad of ['ftp://example.com/x', 'file:///etc/passwd', 'not a url', 'javascript:alert(1)']) {
      expect(configError({ NODE_ENV: 'test', NOTIFY_WEBHOOK_URL: bad }).message).toContain('NOTIFY_WEBHOOK_URL');
    }
    expect(configError({ NODE_ENV: 'test', NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_SECRET: 'short' }).message).toContain('NOTIFY_WEBHOOK_SECRET');
    const prod = { NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-enough-length', NOTIFY_WEBHOOK_URL: url };
    expect(configError(prod).message).toMatch(/required with NOTIFY_WEBHOOK_URL[\s\S]*NOTIFY_WEBHOOK_SECRET/);
    expect(loadConfig({ ...prod, NOTIFY_WEBHOOK_SECRET: 'whsec-0123456789abcdef' }).webhook?.url).toBe(url);
    const timing = loadConfig({
      NODE_ENV: 'test',
      NOTIFY_WEBHOOK_URL: url,
      NOTIFY_WEBHOOK_WINDOW_MS: '0',
      NOTIFY_WEBHOOK_TIMEOUT_MS: '500',
      NOTIFY_WEBHOOK_BACKOFF_MS: '20',
      NOTIFY_WEBHOOK_BACKOFF_MAX_MS: '20',
      NOTIFY_WEBHOOK_GIVE_UP_MS: '1000',
      NOTIFY_WEBHOOK_MAX_MESSAGES: '1',
      NOTIFY_WEBHOOK_CONCURRENCY: '1',
    }).webhook;
    expect(timing).toMatchObject({ windowMs: 0, timeoutMs: 500, backoffMs: 20, backoffMaxMs: 20, giveUpMs: 1000, maxMessages: 1, concurrency: 1 });
    for (const [name, v] of [
      ['NOTIFY_WEBHOOK_MAX_MESSAGES', '0'],
      ['NOTIFY_WEBHOOK_MAX_MESSAGES', '501'],
      ['NOTIFY_WEBHOOK_TIMEOUT_MS', '50'],
      ['NOTIFY_WEBHOOK_CONCURRENCY', '0'],
      ['NOTIFY_WEBHOOK_GIVE_UP_MS', '10'],
      ['NOTIFY_WEBHOOK_WINDOW_MS', '-1'],
      ['NOTIFY_WEBHOOK_BACKOFF_MS', 'x'],
    ] as const) {
      expect(configError({ NODE_ENV: 'test', NOTIFY_WEBHOOK_URL: url, [name]: v }).message, `${name}=${v}`).toContain(name);
    }
    expect(
      configError({ NODE_ENV: 'test', NOTIFY_WEBHOOK_URL: url, NOTIFY_WEBHOOK_BACKOFF_MS: '5000', NOTIFY_WEBHOOK_BACKOFF_MAX_MS: '1000' }).message,
    ).toContain('NOTIFY_WEBHOOK_BACKOFF_MAX_MS');
  });
});

describe('the table of settings', () => {
  /** The rows of a Markdown section's tables: [variables named in the first column, default column]. */
  function documented(file: string, heading: string): Array<[string[], string]> {
    const text = readFileSync(`${ROOT}${file}`, 'utf8');
    const start = text.indexOf(`\n## ${heading}`);
    const section = text.slice(start, text.indexOf('\n## ', start + 4));
    return section
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .map((l) => {
        const [, names = '', defaults = ''] = l.split('|');
        const full = [...names.matchAll(/`([A-Z_][A-Z0-9_]*)`/g)].map((m) => m[1]!);
        // README shortens a row of one family: `NOTIFY_WEBHOOK_WINDOW_MS` / `_MAX_MESSAGES` / …
        const prefix = /^[A-Z]+_[A-Z]+_/.exec(full[0] ?? '')?.[0] ?? '';
        return [full.map((n) => (n.startsWith('_') ? prefix + n.slice(1) : n)), defaults.trim()];
      });
  }
  const isSetting = (n: string): n is SettingName => (SETTING_NAMES as readonly string[]).includes(n);

  it("is API.md's configuration table: every variable read is documented there, and nothing else is", () => {
    const names = documented('API.md', 'Configuration').flatMap(([n]) => n);
    expect(SETTING_NAMES.length).toBeGreaterThan(60);
    expect(SETTING_NAMES.filter((n) => !names.includes(n))).toEqual([]);
    expect(names.filter((n) => !isSetting(n))).toEqual([]);
  });

  it('the numeric defaults API.md and README state are the ones loadConfig applies', () => {
    let checked = 0;
    for (const [file, heading] of [
      ['API.md', 'Configuration'],
      ['README.md', 'Configuration'],
    ] as const) {
      for (const [names, defaults] of documented(file, heading)) {
        expect(
          names.filter((n) => !isSetting(n)),
          `${file}: ${names.join(', ')}`,
        ).toEqual([]);
        const values = defaults.split(' / ');
        if (values.length !== names.length) continue;
        names.forEach((name, i) => {
          if (!/^\d+$/.test(values[i]!)) return;
          expect(readSetting(name as SettingName, {}), `${file}: ${name}`).toBe(Number(values[i]));
          checked++;
        });
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('maps every variable into Config: each numeric setting moved by one from its default changes the result', () => {
    const withWebhook = { NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/chat' }; // else webhook is null whatever its settings
    const config = (env: Record<string, string>) => JSON.stringify(loadConfig({ ...withWebhook, ...env }));
    const defaults = config({});
    const numeric = SETTING_NAMES.filter((n) => typeof readSetting(n, {}) === 'number');
    expect(numeric.length).toBeGreaterThan(50);
    for (const name of numeric) expect(config({ [name]: String(Number(readSetting(name, {})) + 1) }), name).not.toBe(defaults);
  });

  it('readSetting reads one variable as loadConfig does: the default when unset or empty, a ConfigError naming a bad one', () => {
    const c = loadConfig({});
    expect(readSetting('DATABASE_URL', {})).toBe(c.databaseUrl);
    expect(readSetting('REDIS_URL', { REDIS_URL: '' })).toBe(c.redisUrl);
    expect(readSetting('KAFKA_BROKERS', {})).toEqual(c.kafkaBrokers);
    expect(readSetting('KAFKA_BROKERS', { KAFKA_BROKERS: 'a:1, b:2,' })).toEqual(['a:1', 'b:2']);
    expect(readSetting('JWT_SECRET', {})).toBeUndefined();
    expect(() => readSetting('DATABASE_URL', { DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    expect(() => readSetting('DATABASE_URL', { DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(readSetting('PORT', { PORT: '9000', DATABASE_URL: 'mysql://x' })).toBe(9000); // other variables are not its business
  });
});

describe('start-up with a bad value', () => {
  /** Starts the compiled server with `env`; resolves with its exit code and stderr (it must exit within 30 s). */
  async function startBad(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve, reject) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`dist/src/main.js with ${JSON.stringify(env)} did not exit within 30 s; stderr: ${stderr}`));
      }, 30_000);
      child.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    return { code, stderr };
  }

  it('PORT=abc stops the process with exit code 1 and a message naming PORT', async () => {
    const { code, stderr } = await startBad({ PORT: 'abc' });
    expect(code).toBe(1);
    expect(stderr).toContain('PORT');
    expect(stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('a webhook URL without a secret in production stops the process, naming NOTIFY_WEBHOOK_SECRET', async () => {
    const { code, stderr } = await startBad({
      MODE: 'embedded',
      NODE_ENV: 'production',
      JWT_SECRET: 'a-production-secret-of-enough-length',
      NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/chat',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('NOTIFY_WEBHOOK_SECRET');
    expect(stderr).not.toContain('MODE'); // the only complaint
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
