// Small time-series charts of the operations console, drawn by uPlot (/vendor/uplot/, loaded on first use).
// A chart keeps its series set; when the set changes (an instance or a group appears or goes) it is rebuilt.

const PALETTE = ['#0b57d0', '#b3261e', '#146c2e', '#7a4f00', '#6f2da8', '#00696f', '#a8005b', '#50565f'];

/** Loads uPlot's script and stylesheet once; resolves with the global. */
let loading = null;
export function loadUplot() {
  loading ??= new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = 'vendor/uplot/uPlot.min.css';
    document.head.append(css);
    const script = document.createElement('script');
    script.src = 'vendor/uplot/uPlot.iife.min.js';
    script.onload = () => resolve(window.uPlot);
    script.onerror = () => reject(new Error('the chart library did not load (/vendor/uplot/)'));
    document.head.append(script);
  });
  return loading;
}

export class Chart {
  /**
   * @param {HTMLElement} el
   * @param {{ title: string, unit: string, series: (points: any[]) => { labels: string[], values: Array<Array<number|null>> } }} spec
   */
  constructor(el, spec) {
    this.el = el;
    this.spec = spec;
    this.plot = null;
    this.key = '';
  }

  /** Redraws from the console's points (oldest first). */
  update(uPlot, points) {
    const { labels, values } = this.spec.series(points);
    const data = [points.map((p) => p.t / 1000), ...values];
    const key = labels.join('\u0000');
    if (!this.plot || key !== this.key) {
      this.plot?.destroy();
      this.key = key;
      this.plot = new uPlot(
        {
          title: this.spec.title,
          width: Math.max(260, this.el.clientWidth - 8),
          height: 170,
          legend: { live: false },
          cursor: { show: false },
          scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max ?? 0, min ?? 0) * 1.1] } },
          axes: [{}, { label: this.spec.unit, size: 56 }],
          series: [{}, ...labels.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true }))],
        },
        data,
        this.el,
      );
    } else this.plot.setData(data);
    this.el.dataset.points = String(points.length);
  }

  resize() {
    this.plot?.setSize({ width: Math.max(260, this.el.clientWidth - 8), height: 170 });
  }

  destroy() {
    this.plot?.destroy();
    this.plot = null;
    this.key = '';
  }
}

/** The union of the keys of a per-point map (`lag`, `cpu`) over the points, sorted. */
export function keysOf(points, field) {
  const keys = new Set();
  for (const p of points) for (const k of Object.keys(p[field] ?? {})) keys.add(k);
  return [...keys].sort();
}
