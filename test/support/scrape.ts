// Reading a running server's Prometheus text (/metrics) in tests and benchmarks: one line parser for plain samples
// and histograms.

const SAMPLE = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/;

/** The samples of the exposition text: name, label text (`{...}` or ''), value. */
export function samples(text: string): Array<{ name: string; labels: string; value: number }> {
  const out: Array<{ name: string; labels: string; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (m) out.push({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

export async function metricsText(baseUrl: string): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`)).text();
}

/** Reads several metrics in one scrape: the first sample of each name (any labels). */
export async function scrape(baseUrl: string, names: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of samples(await metricsText(baseUrl))) if (names.includes(s.name) && out[s.name] === undefined) out[s.name] = s.value;
  return out;
}

/** Reads a sample value of a Prometheus metric (first series whose labels contain `labels`); 0 when absent. */
export async function metric(baseUrl: string, name: string, labels = ''): Promise<number> {
  return samples(await metricsText(baseUrl)).find((s) => s.name === name && (!labels || s.labels.includes(labels)))?.value ?? 0;
}

/** The sum of every series of `name` (NaN when the server cannot be read). */
export async function metricSum(baseUrl: string, name: string): Promise<number> {
  try {
    return samples(await metricsText(baseUrl)).reduce((sum, s) => (s.name === name ? sum + s.value : sum), 0);
  } catch {
    return NaN;
  }
}

/** Cumulative bucket counts (le -> count) of a Prometheus histogram, summed over the given servers' /metrics. */
export async function scrapeHistogram(baseUrls: readonly string[], name: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  await Promise.all(
    baseUrls.map(async (url) => {
      let text: string;
      try {
        text = await metricsText(url);
      } catch {
        return; // metrics unavailable: the quantile comes out NaN
      }
      for (const s of samples(text)) {
        const le = s.name === `${name}_bucket` ? /le="([^"]+)"/.exec(s.labels)?.[1] : undefined;
        if (le === undefined) continue;
        const bound = le === '+Inf' ? Infinity : Number(le);
        out.set(bound, (out.get(bound) ?? 0) + s.value);
      }
    }),
  );
  return out;
}

/** The q-quantile (0..1) of the observations between two scrapes, as the upper bound of its bucket (ms when scale=1000). */
export function histogramQuantile(before: Map<number, number>, after: Map<number, number>, q: number, scale = 1000): number {
  const les = [...after.keys()].sort((a, b) => a - b);
  const diff = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = diff[diff.length - 1] ?? 0;
  if (total <= 0) return NaN;
  const idx = diff.findIndex((c) => c >= q * total);
  return les[idx]! * scale;
}

/** "<= 20" style text for a bucket bound, ">5000" for the +Inf bucket. */
export function bucketText(v: number, lastFinite = 5000): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '-' : `>${lastFinite}`;
  return `<=${v}`;
}
