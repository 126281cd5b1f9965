// The Prometheus/Alertmanager configuration through the real tools (promtool, amtool; installed by
// scripts/promtool.mjs when missing — never skipped): config and rules valid, every rule unit-tested firing and
// not firing, and a live instance's /metrics clean under `promtool check metrics`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startServer, type ServerProc } from '../support/cluster.js';
import { grafanaToPromql, splitThreshold } from './promql.js';
import { promTools, read, run } from './tools.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  name?: string;
  alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts?: unknown[] }>;
}

const rules = (parse(read('compose/prometheus/alerts.yml')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r): r is Rule & { alert: string } => Boolean(r.alert));

describe('compose/prometheus with promtool', () => {
  beforeAll(() => void promTools());

  it('promtool check config accepts prometheus.yml (and the rule files it names)', () => {
    const r = run(promTools().promtool, ['check', 'config', 'compose/prometheus/prometheus.yml']);
    expect(r.output).toContain('is valid prometheus config file syntax');
    expect(r.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });

  it('promtool check rules accepts alerts.yml', () => {
    const r = run(promTools().promtool, ['check', 'rules', 'compose/prometheus/alerts.yml']);
    expect(r.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });

  it('promtool test rules: every unit test passes', () => {
    const r = run(promTools().promtool, ['test', 'rules', 'compose/prometheus/tests/alerts.test.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  it('has the nine alerts, each with for:, a severity and annotations saying what it means and what to do', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'ChatConsumerGroupNotReady',
        'ChatConsumerLagHigh',
        'ChatDeadLetters',
        'ChatE2eLatencyP99High',
        'ChatHttp5xxRateHigh',
        'ChatInstanceDown',
        'ChatStompErrorRateHigh',
        'ChatWebhookDeliveriesFailed',
        'ChatWebhookReceiverFailing',
      ].sort(),
    );
    const metricOf: Record<string, string> = {
      ChatDeadLetters: 'chat_dead_lettered_total',
      ChatConsumerLagHigh: 'chat_kafka_consumer_lag',
      ChatConsumerGroupNotReady: 'chat_consumer_group_ready',
      ChatHttp5xxRateHigh: 'chat_http_requests_total',
      ChatStompErrorRateHigh: 'chat_stomp_errors_total',
      ChatInstanceDown: 'up',
      ChatE2eLatencyP99High: 'chat_message_e2e_latency_seconds_bucket',
      ChatWebhookDeliveriesFailed: 'chat_webhook_deliveries_total',
      ChatWebhookReceiverFailing: 'chat_webhook_requests_total',
    };
    for (const a of alerts) {
      expect(a.expr, a.alert).toContain(metricOf[a.alert]);
      expect(a.for, `${a.alert} for:`).toMatch(/^[1-9]\d*[smh]$/);
      expect(['critical', 'warning'], `${a.alert} severity`).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.length ?? 0, `${a.alert} summary`).toBeGreaterThan(10);
      expect(a.annotations?.description?.length ?? 0, `${a.alert} description`).toBeGreaterThan(100);
    }
  });

  it('every rule has a unit test in which it fires and an evaluation at which it must not', () => {
    const tests = parse(read('compose/prometheus/tests/alerts.test.yml')) as { rule_files: string[]; tests: RuleTest[] };
    expect(tests.rule_files).toEqual(['../alerts.yml']);
    for (const a of alerts) {
      const evals = tests.tests.flatMap((t) => t.alert_rule_test ?? []).filter((e) => e.alertname === a.alert);
      expect(
        evals.some((e) => (e.exp_alerts ?? []).length > 0),
        `${a.alert} fires in a test`,
      ).toBe(true);
      expect(
        evals.some((e) => (e.exp_alerts ?? []).length === 0),
        `${a.alert} stays silent in a test`,
      ).toBe(true);
    }
  });

  it('amtool check-config accepts the Alertmanager config', () => {
    const r = run(promTools().amtool, ['check-config', 'compose/alertmanager/alertmanager.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });
});

describe('splitThreshold (used by the real-scrape test to query each alert without its threshold)', () => {
  it('splits at the top-level comparison only', () => {
    expect(splitThreshold('up{job="chat"} == 0')).toEqual({ measure: 'up{job="chat"}', op: '==', threshold: 0 });
    expect(splitThreshold('sum(rate(x{a=~"b>c", d!="<"}[5m])) > 1')).toEqual({ measure: 'sum(rate(x{a=~"b>c", d!="<"}[5m]))', op: '>', threshold: 1 });
    expect(splitThreshold('(a or b * 0)\n/ c\n>= 0.05')).toEqual({ measure: '(a or b * 0)\n/ c', op: '>=', threshold: 0.05 });
    expect(() => splitThreshold('sum(rate(x[5m]))')).toThrow(/no top-level comparison/);
    expect(() => splitThreshold('a > b')).toThrow(/not against a number/);
    expect(grafanaToPromql('rate(x[$__rate_interval]) + increase(y[$__range])', '30s')).toBe('rate(x[30s]) + increase(y[30s])');
  });

  it('every alert compares a measure with a number', () => {
    for (const a of alerts) expect(() => splitThreshold(a.expr), a.alert).not.toThrow();
  });
});

describe('promtool check metrics on a live instance', () => {
  let server: ServerProc;
  beforeAll(async () => {
    promTools();
    server = await startServer({ env: { MODE: 'cluster' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('the /metrics of a running instance passes promtool check metrics and has the series the alerts need from the first scrape', async () => {
    // a little traffic first, so the HTTP series exist
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    const res = await fetch(`${server.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.length).toBeGreaterThan(1000); // promtool passes empty input: make sure there is something
    const r = run(promTools().promtool, ['check', 'metrics'], { input: text });
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
    // As the instance names its groups (KAFKA_GROUP_PREFIX separates runs that share a broker).
    for (const group of ['chat-persist', 'chat-broadcast', 'chat-notify', 'chat-receipts'].map((g) => (process.env.KAFKA_GROUP_PREFIX ?? '') + g)) {
      expect(text).toContain(`chat_dead_lettered_total{group="${group}",instance_id="${server.instanceId}"} 0`);
    }
    expect(text).toContain(`chat_stomp_errors_total{code="server-unavailable",instance_id="${server.instanceId}"} 0`);
    expect(text).toContain(`chat_webhook_deliveries_total{outcome="failed",instance_id="${server.instanceId}"} 0`);
    expect(text).toContain(`chat_webhook_requests_total{outcome="ok",instance_id="${server.instanceId}"} 0`);
    expect(text).not.toMatch(/^nodejs_active_handles_total/m);
  });
});
