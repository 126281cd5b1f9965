// One source for the alert thresholds: src/ops/alert-rules.ts (what the operations console evaluates) and
// compose/prometheus/alerts.yml (what Prometheus evaluates) must state the same threshold, window, quantile,
// `for:` and severity for every rule — a change to one without the other fails here.
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ALERT_THRESHOLDS, durationSeconds, type AlertThreshold } from '../../src/ops/alert-rules.js';
import { read } from './tools.js';

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
}

const rules = (parse(read('compose/prometheus/alerts.yml')) as { groups: Array<{ rules: Rule[] }> }).groups
  .flatMap((g) => g.rules)
  .filter((r): r is Rule & { alert: string } => Boolean(r.alert));
const thresholds: Record<string, AlertThreshold> = ALERT_THRESHOLDS;

describe('alert thresholds: src/ops/alert-rules.ts agrees with compose/prometheus/alerts.yml', () => {
  it('every rule of alerts.yml has its thresholds in alert-rules.ts, and no more', () => {
    expect(Object.keys(thresholds).sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it.each(rules.map((r) => [r.alert, r] as const))('%s: comparison, windows, quantile, for: and severity', (name, rule) => {
    const t = thresholds[name]!;
    const expr = rule.expr.replace(/\s+/g, ' ').trim();
    // The comparison that ends the expression.
    const cmp = /(>|==)\s*(-?[\d.]+)$/.exec(expr);
    expect(cmp, `${name}: expression ends with a comparison`).not.toBeNull();
    if (cmp![1] === '>') expect(Number(cmp![2])).toBe(t.above);
    else expect(Number(cmp![2])).toBe(t.equals);
    // Every range selector uses the rule's window.
    const ranges = [...expr.matchAll(/\[(\d+[smh])\]/g)].map((m) => durationSeconds(m[1]!));
    if (t.windowSeconds === undefined) expect(ranges).toEqual([]);
    else {
      expect(ranges.length).toBeGreaterThan(0);
      for (const r of ranges) expect(r).toBe(t.windowSeconds);
    }
    const q = /histogram_quantile\(\s*([\d.]+)/.exec(expr);
    expect(q ? Number(q[1]) : undefined).toBe(t.quantile);
    expect(durationSeconds(rule.for ?? '0s')).toBe(t.forSeconds);
    expect(rule.labels?.severity).toBe(t.severity);
  });
});
