// Static checks of compose/ for operations (no Docker engine here): images pinned, app services healthy-checked
// and in cluster mode, every mounted file present where the container expects it, Prometheus wired to its rules
// and to Alertmanager, the scrape config keeping the app's instance_id, and the dashboard and alerts naming only
// metrics the app exports.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { isPinnedImage } from './dockerfile-lint.js';
import { read, rel } from './tools.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean>;
  healthcheck?: { test: string | string[] };
  volumes?: string[];
  ports?: string[];
  restart?: string;
  depends_on?: Record<string, { condition: string }> | string[];
}
const compose = parse(read('compose/docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const prom = parse(read('compose/prometheus/prometheus.yml')) as {
  rule_files: string[];
  alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
  scrape_configs: Array<{
    job_name: string;
    honor_labels?: boolean;
    metrics_path?: string;
    static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
  }>;
};
const appServices = Object.entries(services).filter(([, s]) => s.build && s.restart !== 'no');

/** Bind mounts of a service: host path (relative to compose/) → container path. */
function mounts(s: Service): Array<{ host: string; container: string }> {
  return (s.volumes ?? [])
    .map((v) => v.split(':'))
    .filter((p) => p[0]!.startsWith('.') || p[0]!.startsWith('/'))
    .map((p) => ({ host: p[0]!, container: p[1]! }));
}
const flag = (s: Service, name: string): string | undefined =>
  (Array.isArray(s.command) ? s.command : []).find((c) => c.startsWith(`--${name}=`))?.slice(name.length + 3);

describe('compose/docker-compose.yml for operations', () => {
  it('pins every image to a version (locally built images: a local tag, never latest)', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, `${name} image`).toBeTruthy();
      if (s.build) expect(s.image, name).not.toMatch(/:latest$|^[^:]+$/);
      else expect(isPinnedImage(s.image!), `${name}: ${s.image}`).toBe(true);
    }
    expect(services['kafka-ui']?.image).toMatch(/^ghcr\.io\/kafbat\/kafka-ui:v\d+\.\d+\.\d+$/);
    expect(services.alertmanager?.image).toMatch(/^prom\/alertmanager:v\d+\.\d+\.\d+$/);
  });

  it('the app services run in cluster mode with a /readyz healthcheck, after the migrations', () => {
    expect(appServices.map(([n]) => n).sort()).toEqual(['app-1', 'app-2']);
    for (const [name, s] of appServices) {
      expect(s.environment?.MODE, name).toBe('cluster');
      const test = Array.isArray(s.healthcheck?.test) ? s.healthcheck.test.join(' ') : (s.healthcheck?.test ?? '');
      expect(test, `${name} healthcheck`).toMatch(/^CMD node -e .*fetch\('http:\/\/127\.0\.0\.1:8080\/readyz'\)/);
      expect(test).not.toMatch(/curl|wget/); // not in the image
      expect(String(s.environment?.PORT)).toBe('8080');
      expect(s.command, `${name} uses the image's CMD (node dist/src/main.js)`).toBeUndefined();
      expect((s.depends_on as Record<string, { condition: string }>).migrate).toEqual({ condition: 'service_completed_successfully' });
    }
  });

  it('a one-shot migrate service runs the compiled migrate CLI from the same image', () => {
    const m = services.migrate!;
    expect(m.image).toBe(services['app-1']!.image);
    expect(m.restart).toBe('no');
    expect(m.command).toEqual(['node', 'dist/src/store/migrate-cli.js']);
    expect(fs.existsSync(rel('src/store/migrate-cli.ts'))).toBe(true);
    expect(m.environment?.DATABASE_URL).toBe(services['app-1']!.environment?.DATABASE_URL);
  });

  it('every bind-mounted file exists', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) expect(fs.existsSync(path.join(rel('compose'), m.host)), `${name}: ${m.host}`).toBe(true);
    }
  });

  it('Prometheus loads prometheus.yml and the rule files it names from where they are mounted', () => {
    const p = services.prometheus!;
    const configPath = flag(p, 'config.file')!;
    const byContainer = new Map(mounts(p).map((m) => [m.container, m.host]));
    expect(byContainer.get(configPath)).toBe('./prometheus/prometheus.yml');
    expect(prom.rule_files.length).toBeGreaterThan(0);
    for (const f of prom.rule_files) {
      const inContainer = path.posix.resolve(path.posix.dirname(configPath), f);
      const host = byContainer.get(inContainer);
      expect(host, `${f} mounted at ${inContainer}`).toBeTruthy();
      // and the same relative path from the repository copy (what promtool check config reads)
      expect(path.join(rel('compose'), host!)).toBe(path.join(rel('compose/prometheus'), f));
    }
  });

  it('Prometheus sends alerts to the Alertmanager service, which loads its mounted config', () => {
    const targets = prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets));
    expect(targets).toEqual(['alertmanager:9093']);
    const am = services.alertmanager!;
    expect(am.ports).toContain('9093:9093');
    const cfg = flag(am, 'config.file')!;
    expect(mounts(am).find((m) => m.container === cfg)?.host).toBe('./alertmanager/alertmanager.yml');
    expect(services.prometheus!.depends_on).toContain('alertmanager');
    const amCfg = parse(read('compose/alertmanager/alertmanager.yml')) as {
      route: { receiver: string };
      receivers: Array<{ name: string; webhook_configs?: Array<{ url: string }> }>;
    };
    const receiver = amCfg.receivers.find((r) => r.name === amCfg.route.receiver);
    expect(receiver?.webhook_configs?.[0]?.url).toMatch(/^http:\/\/[a-z-]+\.invalid[:/]/); // a placeholder that never resolves
  });

  it('scrapes both apps on their metrics port (production: not on the public one) keeping their instance_id (honor_labels)', () => {
    const chat = prom.scrape_configs.find((c) => c.job_name === 'chat')!;
    expect(chat.honor_labels).toBe(true);
    for (const sc of chat.static_configs) {
      const [host, port] = sc.targets[0]!.split(':');
      const svc = services[host!]!;
      expect(svc.environment?.NODE_ENV, host).toBe('production');
      expect(String(svc.environment?.METRICS_PORT)).toBe(port);
      expect(port).not.toBe(String(svc.environment?.PORT));
      // reachable from Prometheus' container, never published to the host
      expect(svc.environment?.METRICS_HOST).toBe('0.0.0.0');
      expect(
        (svc.ports ?? []).map(String).filter((p) => p.split(':').at(-1) === port),
        `${host} publishes ${port}`,
      ).toEqual([]);
      expect(sc.labels?.instance_id).toBe(svc.environment?.INSTANCE_ID);
    }
    expect(chat.static_configs.map((s) => s.targets[0])).toEqual(['app-1:9464', 'app-2:9464']);
  });
});

describe('dashboard and alerts name only exported metrics', () => {
  const dash = JSON.parse(read('compose/grafana/dashboards/chat.json')) as {
    panels: Array<{ id: number; type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string; datasource?: { uid: string } }> }>;
  };
  const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  const alertExprs = (parse(read('compose/prometheus/alerts.yml')) as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups.flatMap((g) =>
    g.rules.map((r) => r.expr),
  );

  it('panels have unique ids and use the provisioned Prometheus datasource', () => {
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const ds = parse(read('compose/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string }> };
    for (const p of dash.panels.filter((p) => p.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe(ds.datasources[0]!.uid);
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
    }
  });

  it('has panels for dead letters, HTTP rate and latency, STOMP errors, produce latency, lag per partition, gap repairs, slow consumers, CPU, memory, event-loop lag', () => {
    const has = (re: RegExp) =>
      expect(
        exprs.some((e) => re.test(e)),
        String(re),
      ).toBe(true);
    has(/chat_dead_lettered_total/);
    has(/sum by \(route\) \(rate\(chat_http_requests_total/);
    has(/chat_http_request_duration_seconds_bucket/);
    has(/chat_stomp_errors_total/);
    has(/chat_kafka_produce_latency_seconds_bucket/);
    has(/by \(group, topic, partition\) \(chat_kafka_consumer_lag\)/);
    has(/chat_fanout_gap_repairs_total/);
    has(/chat_slow_consumers_closed_total/);
    has(/process_cpu_seconds_total/);
    has(/process_resident_memory_bytes/);
    has(/nodejs_eventloop_lag/);
  });

  it('every chat_/nodejs_/process_ name in an expression is a series the app exports', async () => {
    const m = createMetrics('names');
    const exported = new Set<string>();
    for (const metric of await m.registry.getMetricsAsJSON()) {
      exported.add(metric.name);
      if (String(metric.type) === 'histogram') for (const sfx of ['_bucket', '_sum', '_count']) exported.add(metric.name + sfx);
    }
    const used = new Set([...exprs, ...alertExprs].flatMap((e) => [...e.matchAll(/\b((?:chat|nodejs|process)_[a-z0-9_]+)/g)].map((x) => x[1]!)));
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
  });
});
