// Histograms over steps on a canvas: a heat map (x = value, y = step, colour
// = count) or a ridge plot (one outline per step, later steps in front).
//
// Each step keeps its own bin edges (docs/media.md), so the heat map
// resamples every step onto one grid of columns across the whole value
// range, spreading a bin's count over the columns it covers; the ridge plot
// draws each step's own bins, as density (count / bin width).
//
// Over many steps, every k-th step is drawn (the last always): at most 200
// rows in the heat map and 40 ridges.
//
// Test hooks: `div.media-histogram[data-name][data-steps][data-mode]`, with
// `data-steps` the number of steps drawn and `data-mode` `heatmap` or
// `ridge`; the mode is chosen in `select.histogram-mode`.
import { el } from '../dom.js';
import { formatNumber } from '../format.js';
import { rampColor } from './parallel.js';

const LEFT = 56;
const RIGHT = 16;
const TOP = 10;
const BOTTOM = 30;
const MIN_WIDTH = 320;
const MAX_COLUMNS = 240;
const RIDGE_ROWS = 40;
const HEATMAP_ROWS = 200;
const RIDGE_OVERLAP = 2.5;
const AXIS_COLOR = '#57606a';
const TEXT_COLOR = '#6a737d';
const FONT = '11px system-ui, sans-serif';

/**
 * The histogram view of one name. `items` are its index lines (kind
 * `histogram`); when a step was logged twice, the later line wins. Returns
 * { element, destroy }.
 */
export function histogramView(name, items) {
  const rows = rowsByStep(items);
  const range = valueRange(rows);
  const canvas = el('canvas', { class: 'histogram-canvas' });
  const readout = el('div', { class: 'histogram-readout muted', text: '\u00a0' });
  const legend = el('span', { class: 'histogram-legend muted' });
  const mode = el('select', { class: 'histogram-mode', 'aria-label': `View of ${name}` },
    el('option', { value: 'heatmap', text: 'heat map' }),
    el('option', { value: 'ridge', text: 'ridge plot' }));
  const element = el('div', { class: 'media-histogram', dataset: { name, steps: '0', mode: 'heatmap' } },
    el('div', { class: 'media-toolbar' }, mode, legend, readout), canvas);
  let width = 0;

  function draw() {
    if (!width) return;
    const shown = sample(rows, mode.value === 'ridge' ? RIDGE_ROWS : HEATMAP_ROWS);
    const plot = layout(width, shown.length, mode.value);
    const g = prepare(canvas, width, plot.height);
    if (mode.value === 'ridge') {
      drawRidges(g, plot, shown, range);
      legend.replaceChildren(rampLegend('first step', 'last step'));
    } else {
      const most = drawHeatmap(g, plot, shown, range);
      legend.replaceChildren(rampLegend('count 0', formatNumber(Number(most.toPrecision(3)))));
    }
    drawAxes(g, plot, shown, range);
    element.dataset.steps = String(shown.length);
    element.dataset.mode = mode.value;
    canvas.onmousemove = (event) => { readout.textContent = describe(event, canvas, plot, shown, range); };
  }

  mode.addEventListener('change', draw);
  canvas.addEventListener('mouseleave', () => { readout.textContent = '\u00a0'; });
  const resize = new ResizeObserver(() => {
    const next = Math.max(MIN_WIDTH, Math.floor(element.clientWidth));
    if (element.clientWidth && next !== width) {
      width = next;
      draw();
    }
  });
  resize.observe(element);
  return { element, destroy: () => resize.disconnect() };
}

/** One row per step, in step order: { step, edges, counts, nonfinite }. */
export function rowsByStep(items) {
  const byStep = new Map();
  for (const item of items) {
    const edges = item.edges ?? [];
    const counts = item.counts ?? [];
    if (edges.length !== counts.length + 1 || !counts.length) continue;
    byStep.set(item.step, { step: item.step, edges, counts, nonfinite: item.nonfinite ?? 0 });
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

function valueRange(rows) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of rows) {
    lo = Math.min(lo, row.edges[0]);
    hi = Math.max(hi, row.edges[row.edges.length - 1]);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: 1 };
  if (lo === hi) return { lo: lo - 0.5, hi: hi + 0.5 };
  return { lo, hi };
}

// Every k-th row, the last always kept, so a long run still fits the plot.
function sample(rows, most) {
  if (rows.length <= most) return rows;
  const every = Math.ceil(rows.length / most);
  return rows.filter((_, i) => i % every === 0 || i === rows.length - 1);
}

function layout(width, count, mode) {
  const rowHeight = mode === 'ridge' ? 14 : Math.max(2, Math.min(24, Math.floor(320 / Math.max(1, count))));
  const extra = mode === 'ridge' ? rowHeight * RIDGE_OVERLAP : 0;
  const inner = Math.max(60, count * rowHeight + extra + (mode === 'ridge' ? 4 : 0));
  return {
    left: LEFT, top: TOP, width: width - LEFT - RIGHT, height: TOP + inner + BOTTOM,
    plotHeight: inner, rowHeight, extra,
  };
}

// Sizes the canvas for the screen's pixel ratio; draws in CSS pixels.
function prepare(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  return g;
}

/** A row's counts spread over `columns` equal columns of [lo, hi]. */
export function resample(row, lo, hi, columns) {
  const out = new Float64Array(columns);
  const span = (hi - lo) / columns;
  for (let j = 0; j < row.counts.length; j += 1) {
    const a = (row.edges[j] - lo) / span;
    const b = (row.edges[j + 1] - lo) / span;
    if (!(b > a)) {
      out[Math.min(columns - 1, Math.max(0, Math.floor(a)))] += row.counts[j];
      continue;
    }
    for (let c = Math.max(0, Math.floor(a)); c < Math.min(columns, Math.ceil(b)); c += 1) {
      const overlap = Math.min(b, c + 1) - Math.max(a, c);
      if (overlap > 0) out[c] += (row.counts[j] * overlap) / (b - a);
    }
  }
  return out;
}

function drawHeatmap(g, plot, rows, range) {
  const columns = Math.max(1, Math.min(MAX_COLUMNS, Math.floor(plot.width / 2)));
  const grid = rows.map((row) => resample(row, range.lo, range.hi, columns));
  const most = Math.max(0, ...grid.map((cells) => Math.max(...cells)));
  const cellWidth = plot.width / columns;
  grid.forEach((cells, r) => {
    const y = plot.top + r * plot.rowHeight;
    cells.forEach((count, c) => {
      if (count <= 0) return; // an empty cell stays background
      g.fillStyle = rampColor(most ? count / most : 0);
      g.fillRect(plot.left + c * cellWidth, y, cellWidth + 0.5, plot.rowHeight + 0.5);
    });
  });
  return most;
}

// What the colours mean: a bar of the ramp between two labels.
function rampLegend(low, high) {
  const bar = el('span', { class: 'ramp-bar' });
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => rampColor(t));
  bar.style.backgroundImage = `linear-gradient(to right, ${stops.join(', ')})`;
  return el('span', { class: 'ramp' }, el('span', { text: low }), bar, el('span', { text: high }));
}

function drawRidges(g, plot, rows, range) {
  const densities = rows.map((row) => row.counts.map((c, j) => c / Math.max(1e-300, row.edges[j + 1] - row.edges[j])));
  const most = Math.max(0, ...densities.flat());
  const x = (v) => plot.left + ((v - range.lo) / (range.hi - range.lo)) * plot.width;
  const amplitude = plot.rowHeight * (1 + RIDGE_OVERLAP);
  rows.forEach((row, r) => {
    const base = plot.top + plot.extra + (r + 1) * plot.rowHeight;
    g.beginPath();
    g.moveTo(x(row.edges[0]), base);
    densities[r].forEach((d, j) => {
      const top = base - (most ? d / most : 0) * amplitude;
      g.lineTo(x(row.edges[j]), top);
      g.lineTo(x(row.edges[j + 1]), top);
    });
    g.lineTo(x(row.edges[row.edges.length - 1]), base);
    g.closePath();
    g.fillStyle = 'rgba(255, 255, 255, 0.9)';
    g.fill();
    g.strokeStyle = rampColor(rows.length > 1 ? r / (rows.length - 1) : 0.5);
    g.lineWidth = 1.3;
    g.stroke();
  });
}

function drawAxes(g, plot, rows, range) {
  const bottom = plot.top + plot.plotHeight;
  g.strokeStyle = AXIS_COLOR;
  g.lineWidth = 1;
  g.strokeRect(plot.left - 0.5, plot.top - 0.5, plot.width + 1, plot.plotHeight + 1);
  g.font = FONT;
  g.fillStyle = TEXT_COLOR;
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (const v of ticks(range.lo, range.hi)) {
    const px = plot.left + ((v - range.lo) / (range.hi - range.lo)) * plot.width;
    g.fillRect(px, bottom, 1, 4);
    g.fillText(formatNumber(v), px, bottom + 6);
  }
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  const every = Math.max(1, Math.ceil((rows.length * 12) / plot.plotHeight));
  // Counted from the last row, so the latest step always has its label.
  rows.forEach((row, r) => {
    if ((rows.length - 1 - r) % every !== 0) return;
    g.fillText(formatNumber(row.step), plot.left - 6, rowCentre(plot, r));
  });
  g.save();
  g.translate(12, plot.top + plot.plotHeight / 2);
  g.rotate(-Math.PI / 2);
  g.textAlign = 'center';
  g.fillText('step', 0, 0);
  g.restore();
}

function rowCentre(plot, r) {
  if (plot.extra) return plot.top + plot.extra + (r + 1) * plot.rowHeight - 3;
  return plot.top + (r + 0.5) * plot.rowHeight;
}

/** About five round values inside [lo, hi]. */
export function ticks(lo, hi) {
  const raw = (hi - lo) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

// The step, bin and count under the pointer, as a line of text.
function describe(event, canvas, plot, rows, range) {
  const box = canvas.getBoundingClientRect();
  const px = event.clientX - box.left;
  const py = event.clientY - box.top;
  const r = rows.findIndex((_, i) => Math.abs(rowCentre(plot, i) - py) <= plot.rowHeight / 2);
  if (r < 0 || px < plot.left || px > plot.left + plot.width) return '\u00a0';
  const value = range.lo + ((px - plot.left) / plot.width) * (range.hi - range.lo);
  const row = rows[r];
  const j = row.edges.findIndex((edge, i) => i < row.counts.length && value >= edge && value <= row.edges[i + 1]);
  const where = `step ${formatNumber(row.step)}`;
  if (j < 0) return `${where} · ${formatNumber(value)} is outside this step's bins`;
  const bin = `[${formatNumber(row.edges[j])}, ${formatNumber(row.edges[j + 1])})`;
  const extra = row.nonfinite ? ` · ${formatNumber(row.nonfinite)} non-finite left out` : '';
  return `${where} · ${bin} · count ${formatNumber(row.counts[j])}${extra}`;
}
