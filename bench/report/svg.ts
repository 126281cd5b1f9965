// Hand-rolled SVG charts for the performance report (no chart library): a line chart with linear or log axes,
// and a stacked bar chart. Output is a standalone SVG document (renders on GitHub and in browsers).

export interface Series {
  name: string;
  color: string;
  /** Dashed line (e.g. p50 next to a solid p99 of the same colour). */
  dashed?: boolean;
  points: Array<[x: number, y: number]>;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Log scale for y; default: when the data spans more than 20x. */
  logY?: boolean;
  width?: number;
  /** Height of the plot area (the legend adds to the picture's height). */
  plotHeight?: number;
}

export interface StackedBarOptions {
  title: string;
  yLabel: string;
  /** One bar per category (x label, may contain "\n" for two lines). */
  categories: string[];
  stacks: Array<{ name: string; color: string; values: number[] }>;
  width?: number;
  plotHeight?: number;
}

/** Colours that stay distinct for the usual number of series. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf', '#bcbd22'];

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const M = { top: 48, right: 24, bottom: 64, left: 72 };

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
const num = (v: number) => Number(v.toFixed(2)).toString();

/** "Nice" linear ticks (1, 2, 5 x 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1]! < max) out.push(Number((out[out.length - 1]! + step).toPrecision(12)));
  return out;
}

/** Powers of ten (with 2 and 5 in between when the range is small) from 10^floor(log min) to 10^ceil(log max). */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const out: number[] = [];
  for (let e = lo; e <= hi; e++) for (const m of hi - lo <= 3 ? [1, 2, 5] : [1]) if (e < hi || m === 1) out.push(Number((m * 10 ** e).toPrecision(12)));
  return out;
}

const tickText = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en') : v >= 1 ? String(Number(v.toPrecision(3))) : String(Number(v.toPrecision(2))));

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 760;
  const pw = width - M.left - M.right;
  const ph = o.plotHeight ?? 300;
  const height =
    M.top +
    ph +
    M.bottom +
    22 *
      legendRows(
        o.series.map((x) => x.name),
        width,
      );
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const body: string[] = [];
  if (pts.length === 0) return frame(width, height, o.title, [`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text>`]);
  const xs = pts.map(([x]) => x);
  const ys = pts.map(([, y]) => y).filter((y) => y > 0);
  const yMin = Math.min(...ys);
  const yMax = Math.max(...ys);
  const logY = o.logY ?? yMax / Math.max(yMin, 1e-9) > 20;
  const xt = niceTicks(Math.min(0, ...xs), Math.max(...xs));
  const yt = logY ? logTicks(yMin, yMax) : niceTicks(0, yMax);
  const x0 = xt[0]!;
  const x1 = xt[xt.length - 1]!;
  const y0 = yt[0]!;
  const y1 = yt[yt.length - 1]!;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = logY
    ? (y: number) => M.top + ph - ((Math.log10(Math.max(y, y0)) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0) || 1)) * ph
    : (y: number) => M.top + ph - ((y - y0) / (y1 - y0 || 1)) * ph;
  // Grid and axes.
  for (const v of yt) {
    body.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${num(sy(v))}" y2="${num(sy(v))}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${M.left - 8}" y="${num(sy(v) + 4)}" text-anchor="end">${tickText(v)}</text>`);
  }
  for (const v of xt) {
    body.push(`<line x1="${num(sx(v))}" x2="${num(sx(v))}" y1="${M.top}" y2="${M.top + ph}" stroke="#f0f0f0"/>`);
    body.push(`<text x="${num(sx(v))}" y="${M.top + ph + 18}" text-anchor="middle">${tickText(v)}</text>`);
  }
  body.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  body.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 40}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  body.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}${logY ? ' (log scale)' : ''}</text>`);
  // Lines and points.
  for (const s of o.series) {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0)).sort((a, b) => a[0] - b[0]);
    if (p.length === 0) continue;
    const d = p.map(([x, y], i) => `${i ? 'L' : 'M'}${num(sx(x))} ${num(sy(y))}`).join(' ');
    body.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const [x, y] of p)
      body.push(
        `<circle cx="${num(sx(x))}" cy="${num(sy(y))}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}: ${tickText(x)} -> ${y.toFixed(1)}`)}</title></circle>`,
      );
  }
  body.push(
    ...legend(
      o.series.map((s) => ({ name: s.name, color: s.color, dashed: s.dashed })),
      width,
      M.top + ph + 52,
    ),
  );
  return frame(width, height, o.title, body);
}

export function stackedBars(o: StackedBarOptions): string {
  const width = o.width ?? Math.max(560, 90 + o.categories.length * 70);
  const pw = width - M.left - M.right;
  const ph = o.plotHeight ?? 300;
  const height =
    M.top +
    ph +
    M.bottom +
    12 +
    22 *
      legendRows(
        o.stacks.map((x) => x.name),
        width,
      );
  const totals = o.categories.map((_, i) => o.stacks.reduce((a, s) => a + (Number.isFinite(s.values[i]!) ? Math.max(0, s.values[i]!) : 0), 0));
  const yt = niceTicks(0, Math.max(1e-9, ...totals));
  const y1 = yt[yt.length - 1]!;
  const sy = (v: number) => M.top + ph - (v / y1) * ph;
  const body: string[] = [];
  for (const v of yt) {
    body.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${num(sy(v))}" y2="${num(sy(v))}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${M.left - 8}" y="${num(sy(v) + 4)}" text-anchor="end">${tickText(v)}</text>`);
  }
  const slot = pw / Math.max(1, o.categories.length);
  const bw = Math.min(48, slot * 0.7);
  o.categories.forEach((cat, i) => {
    const cx = M.left + slot * (i + 0.5);
    let acc = 0;
    for (const s of o.stacks) {
      const v = s.values[i]!;
      if (!Number.isFinite(v) || v <= 0) continue;
      body.push(
        `<rect x="${num(cx - bw / 2)}" y="${num(sy(acc + v))}" width="${num(bw)}" height="${num(sy(acc) - sy(acc + v))}" fill="${s.color}"><title>${esc(`${cat.replace('\n', ' ')}: ${s.name} ${v.toFixed(1)}`)}</title></rect>`,
      );
      acc += v;
    }
    body.push(`<text x="${num(cx)}" y="${num(sy(acc) - 4)}" text-anchor="middle" font-size="11">${tickText(acc)}</text>`);
    cat
      .split('\n')
      .forEach((line, k) => body.push(`<text x="${num(cx)}" y="${M.top + ph + 16 + k * 14}" text-anchor="middle" font-size="11">${esc(line)}</text>`));
  });
  body.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  body.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  body.push(
    ...legend(
      o.stacks.map((s) => ({ name: s.name, color: s.color })),
      width,
      M.top + ph + 52,
    ),
  );
  return frame(width, height, o.title, body);
}

function legendRows(names: string[], width: number): number {
  const cell = Math.max(120, Math.max(...names.map((n) => n.length)) * 7 + 44);
  return Math.ceil(names.length / Math.max(1, Math.floor((width - M.left - M.right) / cell)));
}

function legend(items: Array<{ name: string; color: string; dashed?: boolean }>, width: number, top: number): string[] {
  const out: string[] = [];
  // As many per row as the longest name allows (about 7 px per character at 12 px).
  const longest = Math.max(...items.map((it) => it.name.length));
  const cell = Math.max(120, longest * 7 + 44);
  const perRow = Math.max(1, Math.floor((width - M.left - M.right) / cell));
  items.forEach((it, i) => {
    const x = M.left + (i % perRow) * cell;
    const y = top + Math.floor(i / perRow) * 22;
    out.push(
      `<line x1="${num(x)}" x2="${num(x + 26)}" y1="${y}" y2="${y}" stroke="${it.color}" stroke-width="${it.dashed === undefined ? 10 : 2.5}"${it.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${num(x + 32)}" y="${y + 4}">${esc(it.name)}</text>`);
  });
  return out;
}
