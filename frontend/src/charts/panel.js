// One chart panel: a uPlot plot of one metric, with the panel's test hooks
// (data-metric, data-series, data-shown, data-total, data-x-min, data-x-max),
// the "N of M points shown" line, red ticks where a run logged NaN or an
// infinity, and a note of the points a log axis cannot show.
import uPlot from 'uplot';

import { el } from '../dom.js';
import { formatCount, formatDateTime, formatDuration, formatNumber } from '../format.js';
import { alignParts, logSafe, smooth } from './data.js';

const HEIGHT = 220;
const MARK_COLOR = 'rgb(214, 39, 40)';

const X_LABELS = { step: 'step', time: 'time', relative: 'time since start' };

// Seconds since the start read as h:mm:ss past a minute, else as seconds
// (a fast run spans milliseconds, which h:mm:ss would show as 0:00:00).
function secondsText(value) {
  return Math.abs(value) >= 60 ? formatDuration(value) : `${formatNumber(Number(value.toPrecision(4)))} s`;
}

function xValueText(mode, value) {
  if (value === null || value === undefined) return '—';
  if (mode === 'time') return formatDateTime(value, { seconds: true });
  if (mode === 'relative') return secondsText(value);
  return formatNumber(value);
}

function yValueText(_u, value) {
  return value === null || value === undefined ? '—' : formatNumber(value);
}

/** Which series of a plot play which part; `legend: false` hides the row. */
function seriesFor(entries, settings) {
  const parts = [];
  const series = [];
  const bands = [];
  const faint = settings.smooth > 0;
  const prepare = (ys) => (settings.logy ? logSafe(ys) : ys);
  if (entries.length && entries[0].kind === 'group') {
    for (const g of entries) {
      const at = series.length + 1;
      parts.push({ x: g.x, columns: [g.mean, g.lo, g.hi].map((ys) => prepare(smooth(ys, settings.smooth))) });
      series.push({ label: g.label, stroke: g.color, width: 2, value: yValueText });
      for (const edge of ['low', 'high']) {
        series.push({ label: `${g.label} ${edge}`, stroke: 'transparent', width: 0,
          points: { show: false }, value: yValueText, legend: false });
      }
      bands.push({ series: [at + 2, at + 1], fill: g.fill });
    }
    return { parts, series, bands };
  }
  if (faint) {
    for (const r of entries) {
      parts.push({ x: r.x, columns: [prepare(r.y)] });
      series.push({ label: `${r.label} (raw)`, stroke: r.faint, width: 1,
        points: { show: false }, value: yValueText, legend: false });
    }
  }
  for (const r of entries) {
    parts.push({ x: r.x, columns: [prepare(smooth(r.y, settings.smooth))] });
    series.push({ label: r.label, stroke: r.color, width: 1.5, value: yValueText });
  }
  return { parts, series, bands };
}

/** A panel for one metric; call draw() once it is in the document. */
export class Panel {
  constructor(metric) {
    this.metric = metric;
    this.plot = null;
    this.zoomed = false;
    this.marks = [];
    this.shape = '';
    this.title = el('span', { class: 'panel-note' });
    this.footer = el('div', { class: 'panel-footer' });
    this.logNote = el('div', { class: 'panel-footer log-note', hidden: true });
    this.body = el('div', { class: 'panel-plot' });
    this.element = el('div', { class: 'panel', dataset: { metric } },
      el('div', { class: 'panel-head' }, el('h4', { text: metric, title: metric }), this.title),
      this.body, this.footer, this.logNote);
  }

  /** (Re)creates the plot for these entries and settings at this width. */
  draw(entries, settings, width) {
    this.destroyPlot();
    const { parts, series, bands } = seriesFor(entries, settings);
    const opts = this.options(series, bands, settings, width);
    const data = alignParts(parts);
    this.marks = marksOf(entries);
    this.plot = new uPlot(opts, data, this.body);
    this.hideLegendRows(series);
    this.plot.over.addEventListener('dblclick', () => { this.zoomed = false; });
    this.shape = shapeOf(entries, settings);
    this.describe(entries, data[0], settings);
  }

  /** New data for the same series (live points): keeps the zoom if zoomed. */
  update(entries, settings, width) {
    if (!this.plot || this.shape !== shapeOf(entries, settings)) {
      this.draw(entries, settings, width);
      return;
    }
    const { parts } = seriesFor(entries, settings);
    const data = alignParts(parts);
    this.marks = marksOf(entries);
    this.plot.setData(data, !this.zoomed);
    this.describe(entries, data[0], settings);
  }

  resize(width) {
    if (this.plot) this.plot.setSize({ width, height: HEIGHT });
  }

  destroyPlot() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  options(series, bands, settings, width) {
    const mode = settings.x;
    return {
      width,
      height: HEIGHT,
      legend: { live: true },
      cursor: { sync: { key: 'runlab-x' }, drag: { x: true, y: false } },
      scales: { x: { time: mode === 'time' }, y: { distr: settings.logy ? 3 : 1, log: 10 } },
      axes: [
        { stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' },
          values: mode === 'time' ? undefined : (_u, splits) => splits.map((v) => xValueText(mode, v)) },
        { stroke: '#555', size: 58, grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' },
          values: (_u, splits) => splits.map((v) => (v === null ? '' : formatNumber(v))) },
      ],
      series: [{ label: X_LABELS[mode] ?? mode, value: (_u, v) => xValueText(mode, v) }, ...series],
      bands,
      hooks: {
        setSelect: [(u) => { if (u.select.width > 0) this.zoomed = true; }],
        draw: [(u) => drawMarks(u, this.marks)],
      },
    };
  }

  hideLegendRows(series) {
    const rows = this.plot.root.querySelectorAll('.u-legend .u-series');
    series.forEach((s, i) => {
      if (s.legend === false && rows[i + 1]) rows[i + 1].classList.add('legend-hidden');
    });
  }

  /** Updates the test hooks, the notes and the points line; xs: the drawn x. */
  describe(entries, xs, settings) {
    const shown = entries.reduce((sum, e) => sum + e.shown, 0);
    const total = entries.reduce((sum, e) => sum + e.total, 0);
    const dataset = this.element.dataset;
    Object.assign(dataset, { series: String(entries.length), shown: String(shown), total: String(total) });
    if (xs.length) Object.assign(dataset, { xMin: String(xs[0]), xMax: String(xs[xs.length - 1]) });
    else for (const key of ['xMin', 'xMax']) delete dataset[key];
    const count = this.marks.length;
    this.title.textContent = count ? `${formatCount(count)} NaN/inf point${count === 1 ? '' : 's'}` : '';
    this.footer.textContent = `${formatCount(shown)} of ${formatCount(total)} points shown`;
    const hidden = settings.logy ? nonPositive(entries) : 0;
    this.logNote.hidden = hidden === 0;
    this.logNote.textContent = hidden
      ? `${formatCount(hidden)} point${hidden === 1 ? '' : 's'} ≤ 0 not shown on log scale` : '';
  }

  destroy() {
    this.destroyPlot();
    this.element.remove();
  }
}

function shapeOf(entries, settings) {
  return [entries.map((e) => e.label).join('\u0000'), settings.smooth > 0, settings.logy, settings.x].join('|');
}

function marksOf(entries) {
  return entries.flatMap((e) => e.marks ?? []);
}

// The points a log axis leaves out: a run's values <= 0, a group's means <= 0.
function nonPositive(entries) {
  let count = 0;
  for (const e of entries) {
    for (const y of e.kind === 'group' ? e.mean : e.y) if (y !== null && y <= 0) count += 1;
  }
  return count;
}

// Small red ticks on the bottom edge of the plot at each non-finite point.
function drawMarks(u, marks) {
  if (!marks.length) return;
  const { left, top, width, height } = u.bbox;
  const dpr = window.devicePixelRatio || 1;
  const ctx = u.ctx;
  ctx.save();
  ctx.fillStyle = MARK_COLOR;
  for (const mark of marks) {
    const px = u.valToPos(mark.x, 'x', true);
    if (px < left || px > left + width) continue;
    ctx.fillRect(px - dpr, top + height - 7 * dpr, 2 * dpr, 7 * dpr);
  }
  ctx.restore();
}
