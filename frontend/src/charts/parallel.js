// A parallel-coordinates plot on SVG: one vertical axis per column, one
// polyline per row, coloured by the last axis; dragging along an axis
// brushes a range of it, and rows outside any brush are drawn faint.
//
// Scales: an axis of finite numbers is linear, or log10 when every value is
// above 0 and they span more than two decades; any other axis lists its
// distinct values as evenly spaced categories, in the order first seen. A
// row without a value on an axis meets it at the "n/a" mark below it.
//
// Test hooks: the element is `#parallel` with `data-lines` (polylines drawn)
// and `data-selected` (rows inside every brush); axes are
// `g.pc-axis[data-axis=<name>]`; lines are `polyline.pc-line[data-row=<key>]`.
import { formatNumber, formatValue } from '../format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 400;
const TOP = 46;
const AXIS_BOTTOM = 316;
const NA_Y = 336;
const LEGEND_Y = 368;
const SIDE = 70;
const MIN_WIDTH = 480;
const MIN_DRAG_PX = 3;
const LABEL_CHARS = 22;
const MISSING_COLOR = '#b0b6bd';
// A perceptually even ramp from indigo to amber, low values to high.
const RAMP = [[59, 42, 132], [44, 111, 187], [31, 161, 135], [140, 198, 62], [242, 193, 46]];

function svgEl(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** The ramp's colour at t in [0, 1]. */
export function rampColor(t) {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const [r, g, b] = RAMP[i].map((c, k) => Math.round(c + f * (RAMP[i + 1][k] - c)));
  return `rgb(${r}, ${g}, ${b})`;
}

function isPresent(value) {
  return value !== null && value !== undefined;
}

/**
 * The scale of an axis from its values: `pos(value)` is a fraction of the
 * axis (0 bottom, 1 top) or null for a missing value; `ticks` are
 * [{pos, text}]; `low` and `high` label its ends.
 */
export function makeScale(values) {
  const present = values.filter(isPresent);
  const numeric = present.length > 0 && present.every((v) => typeof v === 'number' && Number.isFinite(v));
  return numeric ? numericScale(present) : categoryScale(present);
}

function numericScale(numbers) {
  let lo = Math.min(...numbers);
  let hi = Math.max(...numbers);
  const log = lo > 0 && hi / lo > 100;
  const f = log ? Math.log10 : (v) => v;
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = log ? [lo / 2, hi * 2] : [lo - pad, hi + pad];
  }
  const [a, b] = [f(lo), f(hi)];
  const pos = (v) => (typeof v === 'number' && Number.isFinite(v) && (!log || v > 0) ? (f(v) - a) / (b - a) : null);
  const marks = log ? logTicks(lo, hi) : linearTicks(lo, hi);
  const ticks = marks.map((v) => ({ pos: pos(v), text: formatNumber(v) }));
  return { kind: log ? 'log' : 'linear', pos, ticks, low: formatNumber(lo), high: formatNumber(hi) };
}

function linearTicks(lo, hi) {
  const raw = (hi - lo) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return ticks;
}

function logTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.ceil(Math.log10(lo) - 1e-9); 10 ** e <= hi * (1 + 1e-9); e += 1) ticks.push(10 ** e);
  // Over many decades, every k-th power keeps about eight labels.
  const every = Math.ceil(ticks.length / 8);
  return ticks.filter((_, i) => i % every === 0);
}

function categoryKey(value) {
  return `${typeof value}:${JSON.stringify(value)}`;
}

function categoryScale(present) {
  const order = new Map();
  for (const v of present) if (!order.has(categoryKey(v))) order.set(categoryKey(v), v);
  const values = [...order.values()];
  const n = values.length;
  const at = (i) => (i + 0.5) / n;
  const index = new Map([...order.keys()].map((key, i) => [key, i]));
  const pos = (v) => (isPresent(v) && index.has(categoryKey(v)) ? at(index.get(categoryKey(v))) : null);
  // Many categories: label about 20 of them so the texts do not overlap.
  const every = Math.max(1, Math.ceil(n / 20));
  const ticks = values.map((v, i) => ({ pos: at(i), text: i % every === 0 ? formatValue(v) : '' }));
  return { kind: 'category', pos, ticks, low: n ? formatValue(values[0]) : '', high: n ? formatValue(values[n - 1]) : '' };
}

function shorten(text) {
  return text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS - 1)}…` : text;
}

/**
 * Creates the plot. `onBrush(selected)` is called when a brush is made,
 * changed or cleared, with the Set of row keys inside every brush (all rows
 * when there is no brush). Returns { element, render, clearBrushes,
 * selected, brushRanges, setBrushRanges, hasBrushes, destroy }.
 */
export function createParallel({ onBrush = () => {} } = {}) {
  const element = document.createElement('div');
  element.id = 'parallel';
  element.className = 'parallel';
  const brushes = new Map(); // axis name -> [lo, hi] as axis fractions
  let model = null; // { axes, rows, colorAxis, width, layout }
  let lastWidth = 0;
  let dragging = false;
  let waiting = null; // a render asked for during a drag, done at its end

  const resize = new ResizeObserver(() => {
    if (model && element.clientWidth && element.clientWidth !== lastWidth) draw();
  });
  resize.observe(element);

  /**
   * Draws `rows` ([{key, values: {axisName: value}}]) on `axes`
   * ([{name, label}]); the last axis colours the lines. Brushes of axes that
   * remain are kept.
   */
  function render(axes, rows) {
    if (dragging) {
      waiting = [axes, rows];
      return;
    }
    const scales = new Map(axes.map((a) => [a.name, makeScale(rows.map((r) => r.values[a.name]))]));
    for (const name of [...brushes.keys()]) if (!scales.has(name)) brushes.delete(name);
    model = { axes, rows, scales };
    draw();
    onBrush(selected());
  }

  function layout(width) {
    const n = model.axes.length;
    const span = width - 2 * SIDE;
    return model.axes.map((_, i) => (n === 1 ? width / 2 : SIDE + (i * span) / (n - 1)));
  }

  function yOf(frac) {
    return frac === null ? NA_Y : AXIS_BOTTOM - frac * (AXIS_BOTTOM - TOP);
  }

  function fracOf(y) {
    return Math.min(1, Math.max(0, (AXIS_BOTTOM - y) / (AXIS_BOTTOM - TOP)));
  }

  function draw() {
    lastWidth = element.clientWidth;
    const width = Math.max(MIN_WIDTH, lastWidth || 900);
    const xs = layout(width);
    const svg = svgEl('svg', { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, class: 'pc-svg',
      role: 'img', 'aria-label': 'Parallel coordinates of the trials' });
    svg.append(gradient(), svgEl('g', { class: 'pc-lines' }));
    model.axes.forEach((axis, i) => svg.append(axisGroup(axis, xs[i], svg)));
    if (model.rows.some((r) => model.axes.some((a) => model.scales.get(a.name).pos(r.values[a.name]) === null))) {
      svg.append(svgEl('text', { x: 8, y: NA_Y + 4, class: 'pc-na' }, 'n/a'));
    }
    svg.append(legend(width));
    model.xs = xs;
    model.svg = svg;
    element.replaceChildren(svg);
    drawLines();
  }

  function gradient() {
    const grad = svgEl('linearGradient', { id: 'pc-ramp', x1: '0', x2: '1', y1: '0', y2: '0' });
    RAMP.forEach((_, i) => grad.append(svgEl('stop', { offset: i / (RAMP.length - 1), 'stop-color': rampColor(i / (RAMP.length - 1)) })));
    const defs = svgEl('defs');
    defs.append(grad);
    return defs;
  }

  function legend(width) {
    const color = model.axes[model.axes.length - 1];
    const scale = model.scales.get(color.name);
    const x = width - SIDE - 160;
    const g = svgEl('g', { class: 'pc-legend' });
    g.append(
      svgEl('text', { x: x - 8, y: LEGEND_Y + 9, 'text-anchor': 'end', class: 'pc-legend-title' }, `colour: ${color.label}`),
      svgEl('text', { x: x - 8, y: LEGEND_Y + 24, 'text-anchor': 'end', class: 'pc-tick' }, scale.low),
      svgEl('rect', { x, y: LEGEND_Y, width: 160, height: 10, fill: 'url(#pc-ramp)' }),
      svgEl('text', { x: x + 168, y: LEGEND_Y + 24, class: 'pc-tick' }, scale.high),
    );
    return g;
  }

  function axisGroup(axis, x, svg) {
    const scale = model.scales.get(axis.name);
    const g = svgEl('g', { class: 'pc-axis', 'data-axis': axis.name, 'data-scale': scale.kind });
    const label = svgEl('text', { x, y: TOP - 24, 'text-anchor': 'middle', class: 'pc-label' }, shorten(axis.label));
    label.append(svgEl('title', {}, axis.label));
    g.append(label, svgEl('line', { x1: x, x2: x, y1: TOP, y2: AXIS_BOTTOM, class: 'pc-axis-line' }));
    for (const tick of scale.ticks) {
      const y = yOf(tick.pos);
      g.append(svgEl('line', { x1: x - 4, x2: x, y1: y, y2: y, class: 'pc-tick-line' }));
      if (tick.text) g.append(svgEl('text', { x: x - 7, y: y + 4, 'text-anchor': 'end', class: 'pc-tick' }, shorten(tick.text)));
    }
    const brush = svgEl('rect', { x: x - 8, width: 16, y: 0, height: 0, class: 'pc-brush' });
    const hit = svgEl('rect', { x: x - 14, width: 28, y: TOP - 6, height: AXIS_BOTTOM - TOP + 12, class: 'pc-hit' });
    g.append(brush, hit);
    showBrush(axis.name, brush);
    hit.addEventListener('mousedown', (event) => startBrush(event, axis.name, brush, svg));
    g.addEventListener('dblclick', () => {
      brushes.delete(axis.name);
      showBrush(axis.name, brush);
      brushChanged();
    });
    return g;
  }

  function showBrush(name, rect) {
    const range = brushes.get(name);
    rect.setAttribute('visibility', range ? 'visible' : 'hidden');
    if (!range) return;
    rect.setAttribute('y', String(yOf(range[1])));
    rect.setAttribute('height', String(Math.max(1, yOf(range[0]) - yOf(range[1]))));
  }

  function svgY(svg, event) {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    return point.matrixTransform(svg.getScreenCTM().inverse()).y;
  }

  function startBrush(event, name, rect, svg) {
    if (event.button !== 0) return;
    event.preventDefault();
    const start = svgY(svg, event);
    const before = brushes.get(name);
    dragging = true;
    const move = (e) => {
      const y = svgY(svg, e);
      if (Math.abs(y - start) < MIN_DRAG_PX) return;
      const [a, b] = [fracOf(start), fracOf(y)];
      brushes.set(name, [Math.min(a, b), Math.max(a, b)]);
      showBrush(name, rect);
      drawLines();
    };
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
      dragging = false;
      const next = waiting;
      waiting = null;
      if (next) render(...next);
      else if (brushes.get(name) !== before) onBrush(selected());
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }

  function brushChanged() {
    drawLines();
    onBrush(selected());
  }

  function isInside(row) {
    for (const [name, [lo, hi]] of brushes) {
      const pos = model.scales.get(name).pos(row.values[name]);
      if (pos === null || pos < lo - 1e-9 || pos > hi + 1e-9) return false;
    }
    return true;
  }

  /** The Set of row keys inside every brush. */
  function selected() {
    return new Set(model ? model.rows.filter(isInside).map((r) => r.key) : []);
  }

  function drawLines() {
    const layer = model.svg.querySelector('g.pc-lines');
    const colorName = model.axes[model.axes.length - 1].name;
    const colorScale = model.scales.get(colorName);
    const faint = [];
    const bright = [];
    for (const row of model.rows) {
      const points = model.axes.map((a, i) => `${model.xs[i].toFixed(1)},${yOf(model.scales.get(a.name).pos(row.values[a.name])).toFixed(1)}`);
      const t = colorScale.pos(row.values[colorName]);
      const inside = isInside(row);
      const line = svgEl('polyline', { points: points.join(' '), class: inside ? 'pc-line' : 'pc-line pc-faint',
        stroke: t === null ? MISSING_COLOR : rampColor(t), 'data-row': row.key });
      line.append(svgEl('title', {}, row.title ?? String(row.key)));
      (inside ? bright : faint).push(line);
    }
    // Lines inside the brushes are drawn last, so they lie on top.
    layer.replaceChildren(...faint, ...bright);
    element.dataset.lines = String(model.rows.length);
    element.dataset.selected = String(bright.length);
  }

  function clearBrushes() {
    if (!brushes.size) return;
    brushes.clear();
    draw();
    onBrush(selected());
  }

  /** The brushes as {axis name: [lo, hi]}, fractions of each axis (0 bottom, 1 top). */
  function brushRanges() {
    const round = (v) => Math.round(v * 10000) / 10000;
    return Object.fromEntries([...brushes].map(([name, [lo, hi]]) => [name, [round(lo), round(hi)]]));
  }

  /** Sets brushes given as brushRanges() gives them; ranges that are not fractions are skipped. */
  function setBrushRanges(ranges) {
    brushes.clear();
    for (const [name, range] of Object.entries(ranges ?? {})) {
      if (!Array.isArray(range) || range.length !== 2) continue;
      const [lo, hi] = range;
      if ([lo, hi].every((v) => typeof v === 'number' && v >= 0 && v <= 1) && lo <= hi) brushes.set(name, [lo, hi]);
    }
    if (model) brushChangedAndRedraw();
  }

  function brushChangedAndRedraw() {
    for (const name of [...brushes.keys()]) if (!model.scales.has(name)) brushes.delete(name);
    draw();
    onBrush(selected());
  }

  return {
    element, render, clearBrushes, selected, brushRanges, setBrushRanges,
    hasBrushes: () => brushes.size > 0, destroy: () => resize.disconnect(),
  };
}
