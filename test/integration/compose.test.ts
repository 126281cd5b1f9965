// Static checks of the Docker Compose setup (compose/): it parses, has every service, pins the same Kafka
// version as the local stack (scripts/kafka/pom.xml), uses the default ports of API.md, configures Kafka like
// scripts/stack-lib.mjs and lets Prometheus scrape both app instances. Operations checks (image rules, alerts,
// Alertmanager, healthchecks, a real scrape): test/ops/.
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (rel: string): string => fs.readFileSync(`${root}${rel}`, 'utf8');

type Service = {
  image?: string;
  build?: unknown;
  ports?: Array<string | number | { target: number; published?: number | string }>;
  environment?: Record<string, string | number | boolean> | string[];
  command?: string | string[];
  entrypoint?: string | string[];
  depends_on?: unknown;
};
type Compose = { services: Record<string, Service> };

const compose = parse(read('compose/docker-compose.yml'), { merge: true }) as Compose;
const services = compose.services;

function service(name: string): Service {
  const s = services[name];
  if (!s) throw new Error(`compose service ${name} missing`);
  return s;
}

/** Published ports of a service as {host, container} pairs (short and long syntax). */
function ports(name: string): Array<{ host: number; container: number }> {
  return (service(name).ports ?? []).map((p) => {
    if (typeof p === 'object') return { host: Number(p.published ?? p.target), container: Number(p.target) };
    const parts = String(p).split(':');
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : container;
    return { host, container };
  });
}

function env(name: string): Record<string, string> {
  const e = service(name).environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/** The Kafka version pinned in scripts/kafka/pom.xml (the kafka_2.13 dependency, ${properties} resolved). */
function pomKafkaVersion(): string {
  const pom = read('scripts/kafka/pom.xml').replace(/<!--[\s\S]*?-->/g, '');
  const dep = /<dependency>\s*<groupId>org\.apache\.kafka<\/groupId>\s*<artifactId>kafka_2\.13<\/artifactId>\s*<version>([^<]+)<\/version>/.exec(pom);
  if (!dep?.[1]) throw new Error('kafka_2.13 dependency not found in scripts/kafka/pom.xml');
  return dep[1].trim().replace(/\$\{([^}]+)\}/g, (_, prop: string) => {
    const m = new RegExp(`<${prop.replace(/\./g, '\\.')}>([^<]+)</${prop.replace(/\./g, '\\.')}>`).exec(pom);
    if (!m?.[1]) throw new Error(`property ${prop} not defined in pom.xml`);
    return m[1].trim();
  });
}

describe('compose/docker-compose.yml', () => {
  it('has the ten services', () => {
    for (const name of ['app-1', 'app-2', 'migrate', 'postgres', 'redis', 'kafka', 'kafka-ui', 'prometheus', 'alertmanager', 'grafana']) {
      expect(services, `service ${name}`).toHaveProperty(name);
    }
  });

  it('pins the same Kafka version as scripts/kafka/pom.xml', () => {
    const version = pomKafkaVersion();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(service('kafka').image).toBe(`apache/kafka:${version}`);
    for (const [name, s] of Object.entries(services)) {
      if (s.image?.startsWith('apache/kafka:')) expect(s.image, name).toBe(`apache/kafka:${version}`);
    }
  });

  it('publishes the default ports of API.md', () => {
    const has = (name: string, host: number, container?: number) =>
      expect(ports(name), `${name} ${host}`).toContainEqual(container === undefined ? expect.objectContaining({ host }) : { host, container });
    has('app-1', 8080, 8080);
    has('app-1', 61613, 61613);
    has('app-2', 8081);
    has('app-2', 61614);
    has('postgres', 5432, 5432);
    has('redis', 6379, 6379);
    has('kafka', 9092); // host 9092 → the EXTERNAL listener advertised as localhost:9092
    has('kafka-ui', 8085);
    has('prometheus', 9090, 9090);
    has('grafana', 3000, 3000);
    expect(env('kafka').KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT://kafka:9092');
    expect(env('kafka').KAFKA_ADVERTISED_LISTENERS).toContain('localhost:9092');
  });

  it('configures both apps like API.md', () => {
    for (const [name, id] of [
      ['app-1', 'app-1'],
      ['app-2', 'app-2'],
    ] as const) {
      const e = env(name);
      expect(e.DATABASE_URL).toBe('postgres://postgres:postgres@postgres:5432/chat');
      expect(e.REDIS_URL).toBe('redis://redis:6379');
      expect(e.KAFKA_BROKERS).toBe('${KAFKA_BROKERS:-kafka:9092}'); // compose/ha.env sets the three nodes
      expect(e.INSTANCE_ID).toBe(id);
      expect(e.JWT_SECRET?.length ?? 0).toBeGreaterThanOrEqual(16);
      expect(service(name).build).toBeTruthy();
    }
    // The image in detail: test/ops/dockerfile.test.ts.
    const dockerfile = read('compose/app.Dockerfile');
    expect(dockerfile).toMatch(/^FROM node:24\.\S+-slim AS build$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    // The flags are those of npm start (held equal in test/ops/dockerfile.test.ts).
    expect(dockerfile).toMatch(/^CMD \["node", ("--[a-z-]+=\d+", )*"dist\/src\/main\.js"\]$/m);
  });

  it('configures Kafka like the local stack (scripts/stack-lib.mjs) and creates the same topics', async () => {
    const lib = (await import(pathToFileURL(`${root}scripts/stack-lib.mjs`).href)) as {
      kafkaServerProperties: (o?: { host?: string; port?: number }) => string;
      TOPICS: ReadonlyArray<{ topic: string; numPartitions: number }>;
    };
    const props = Object.fromEntries(
      lib
        .kafkaServerProperties()
        .split('\n')
        .filter((l) => l.includes('=') && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const e = env('kafka');
    const same = [
      'process.roles',
      'node.id',
      'controller.listener.names',
      'min.insync.replicas',
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'transaction.state.log.min.isr',
      'group.initial.rebalance.delay.ms',
      'group.min.session.timeout.ms',
      'auto.create.topics.enable',
      'log.retention.hours',
    ];
    for (const key of same) {
      expect(props[key], `stack-lib ${key}`).toBeDefined();
      expect(e[`KAFKA_${key.toUpperCase().replace(/\./g, '_')}`], key).toBe(props[key]);
    }
    const init = JSON.stringify(service('kafka-init'));
    for (const t of lib.TOPICS) expect(init).toContain(`${t.topic}:${t.numPartitions}`);
    expect(lib.TOPICS.map((t) => t.topic)).toEqual(['chat.messages', 'chat.read-receipts', 'chat.messages.dlt']);
  });
});

describe('compose profile `ha`: Redis with failover', () => {
  const ha = [
    'redis-primary',
    'redis-replica',
    'redis-sentinel-1',
    'redis-sentinel-2',
    'redis-sentinel-3',
    'kafka-node-1',
    'kafka-node-2',
    'kafka-node-3',
    'kafka-ha-init',
  ];
  const haEnv = Object.fromEntries(
    read('compose/ha.env')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const script = (name: string) => (service(name).command as string[]).join(' ');

  it('adds a primary, a replica and three sentinels, all in the profile only (the default stack is unchanged)', () => {
    for (const name of ha) expect((service(name) as { profiles?: string[] }).profiles, name).toEqual(['ha']);
    for (const [name, s] of Object.entries(services)) if (!ha.includes(name)) expect((s as { profiles?: string[] }).profiles, name).toBeUndefined();
    expect(service('redis-replica').command).toEqual(expect.arrayContaining(['--replicaof', 'redis-primary', '6379']));
    for (const name of ['redis-primary', 'redis-replica']) expect(service(name).command).toEqual(expect.arrayContaining(['--replica-announce-ip', name]));
  });

  it('its sentinels monitor the primary with the failover settings of the local set (scripts/stack/redis-sentinel.mjs)', async () => {
    const lib = (await import(pathToFileURL(`${root}scripts/stack/redis-sentinel.mjs`).href)) as {
      SENTINEL_DEFAULTS: { name: string };
      sentinelConf: (node: { port: number; dir: string; pidfile: string; logfile: string }) => string;
    };
    const local = lib
      .sentinelConf({ port: 26390, dir: '/x', pidfile: '/x/p', logfile: '/x/l' })
      .split('\n')
      .filter((l) => l.startsWith('sentinel '))
      .map((l) => l.replace(/^sentinel monitor (\S+) \S+ \d+ (\d+)$/, 'sentinel monitor $1 redis-primary 6379 $2'));
    expect(local.length).toBeGreaterThanOrEqual(4);
    for (const name of ['redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3']) {
      const s = script(name);
      for (const line of local) expect(s, `${name}: ${line}`).toContain(`'${line}'`);
      expect(s).toContain("'sentinel resolve-hostnames yes'");
      expect(s).toContain('"sentinel announce-ip $$0"');
      expect((service(name).command as string[]).at(-1), 'announces its own service name').toBe(name);
      expect(service(name).entrypoint).toEqual(['sh', '-c']);
    }
  });

  it('its three Kafka nodes are configured like the local cluster (scripts/stack/kafka-node.mjs) and get the topics at replication 3', async () => {
    const lib = (await import(pathToFileURL(`${root}scripts/stack/kafka-node.mjs`).href)) as {
      kafkaServerProperties: (o: { port: number; nodeId: number; voters: Array<{ id: number; host: string; port: number }> }) => string;
    };
    const local = Object.fromEntries(
      lib
        .kafkaServerProperties({ port: 9092, nodeId: 1, voters: [1, 2, 3].map((id) => ({ id, host: `kafka-node-${id}`, port: 9092 })) })
        .split('\n')
        .filter((l) => l.includes('=') && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const keys = [
      'process.roles',
      'controller.quorum.voters',
      'controller.listener.names',
      'default.replication.factor',
      'min.insync.replicas',
      'unclean.leader.election.enable',
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'transaction.state.log.min.isr',
      'group.initial.rebalance.delay.ms',
      'group.min.session.timeout.ms',
      'auto.create.topics.enable',
      'broker.session.timeout.ms',
      'broker.heartbeat.interval.ms',
      'replica.lag.time.max.ms',
    ];
    expect(local['min.insync.replicas']).toBe('2');
    expect(local['default.replication.factor']).toBe('3');
    for (const n of [1, 2, 3]) {
      const e = env(`kafka-node-${n}`);
      expect(e.KAFKA_NODE_ID).toBe(String(n));
      expect(e.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://kafka-node-${n}:9092`);
      for (const key of keys) expect(e[`KAFKA_${key.toUpperCase().replace(/\./g, '_')}`], `kafka-node-${n} ${key}`).toBe(local[key]);
    }
    const init = (service('kafka-ha-init').command as string[]).join(' ');
    for (const t of ['chat.messages:6', 'chat.read-receipts:3', 'chat.messages.dlt:1']) expect(init).toContain(t);
    expect(init).toContain('--replication-factor 3 --config min.insync.replicas=2');
    expect(haEnv.KAFKA_BROKERS?.split(',')).toEqual(['kafka-node-1:9092', 'kafka-node-2:9092', 'kafka-node-3:9092']);
    for (const app of ['app-1', 'app-2']) {
      expect((service(app).depends_on as Record<string, unknown>)['kafka-ha-init']).toEqual({ condition: 'service_completed_successfully', required: false });
    }
  });

  it('compose/ha.env points both apps at the three sentinels; without it they keep REDIS_URL', async () => {
    const lib = (await import(pathToFileURL(`${root}scripts/stack/redis-sentinel.mjs`).href)) as { SENTINEL_DEFAULTS: { name: string } };
    expect(haEnv.REDIS_SENTINELS?.split(',')).toEqual(['redis-sentinel-1:26379', 'redis-sentinel-2:26379', 'redis-sentinel-3:26379']);
    expect(haEnv.REDIS_SENTINEL_NAME).toBe(lib.SENTINEL_DEFAULTS.name);
    for (const app of ['app-1', 'app-2']) {
      expect(env(app).REDIS_SENTINELS).toBe('${REDIS_SENTINELS:-}');
      expect(env(app).REDIS_SENTINEL_NAME).toBe('${REDIS_SENTINEL_NAME:-chat}');
      const deps = service(app).depends_on as Record<string, { condition: string; required?: boolean }>;
      for (const s of ['redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3']) expect(deps[s]).toEqual({ condition: 'service_healthy', required: false });
    }
    expect(read('compose/docker-compose.yml')).toContain('docker compose -f compose/docker-compose.yml --env-file compose/ha.env --profile ha up --build');
  });
});

describe('compose/prometheus/prometheus.yml', () => {
  it('parses and scrapes /metrics of both apps on their METRICS_PORT', () => {
    const prom = parse(read('compose/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs?: Array<{ targets: string[] }> }>;
    };
    const targets = prom.scrape_configs
      .filter((c) => (c.metrics_path ?? '/metrics') === '/metrics')
      .flatMap((c) => (c.static_configs ?? []).flatMap((s) => s.targets));
    expect(targets).toContain(`app-1:${env('app-1').METRICS_PORT}`);
    expect(targets).toContain(`app-2:${env('app-2').METRICS_PORT}`);
  });

  it('has a Grafana datasource and a dashboard with the chat_ metrics', () => {
    const ds = parse(read('compose/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ url: string; type: string }> };
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const dash = JSON.parse(read('compose/grafana/dashboards/chat.json')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    const exprs = dash.panels
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.expr)
      .join('\n');
    for (const m of [
      'chat_messages_sent_total',
      'chat_messages_delivered_total',
      'chat_message_e2e_latency_seconds_bucket',
      'chat_kafka_consumer_lag',
      'chat_sessions_active',
    ]) {
      expect(exprs).toContain(m);
    }
  });
});
