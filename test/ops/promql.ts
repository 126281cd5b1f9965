// Small PromQL text helpers for the operations tests: the threshold of an alert expression, and Grafana's
// template variables replaced by fixed durations.

const COMPARISONS = ['==', '!=', '>=', '<=', '>', '<'] as const;

/**
 * Splits `expr` at its top-level comparison with a number (`... > 0.05`), the alerting threshold:
 * returns the left side (the measured quantity) and the operator and number. Comparisons inside
 * parentheses, label matchers or strings are not top level. Throws when there is no such comparison.
 */
export function splitThreshold(expr: string): { measure: string; op: string; threshold: number } {
  let depth = 0;
  let quote: string | null = null;
  let found: { at: number; op: string } | null = null;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (depth === 0) {
      const op = COMPARISONS.find((o) => expr.startsWith(o, i));
      // `=~` / `!~` only occur inside braces; `=` alone is not a comparison
      if (op) {
        found = { at: i, op };
        i += op.length - 1;
      }
    }
  }
  if (!found) throw new Error(`no top-level comparison in: ${expr}`);
  const rhs = expr.slice(found.at + found.op.length).trim();
  const threshold = Number(rhs);
  if (rhs === '' || !Number.isFinite(threshold)) throw new Error(`the comparison in "${expr}" is not against a number: ${rhs}`);
  return { measure: expr.slice(0, found.at).trim(), op: found.op, threshold };
}

/** Grafana's interval variables as fixed durations, so a dashboard query runs against the HTTP API. */
export function grafanaToPromql(expr: string, window = '1m'): string {
  return expr.replaceAll('$__rate_interval', window).replaceAll('${__rate_interval}', window).replaceAll('$__interval', '5s').replaceAll('$__range', window);
}
