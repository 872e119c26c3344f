// Media (docs/media.md): on the run page, each logged name by kind (images
// with a step slider, histograms over steps, sortable tables, text); on the
// compare page, the images of a name that several runs logged, side by side
// at one step.
//
// Images load from /runs/{id}/media-file/<file>; tables and text are read
// through the run's file downloads. Every name, caption, cell and text goes
// in as text.
//
// Test hooks: `#media[data-media-ready="1"]` once the names are read (the
// section stays hidden when there are none); `div.media-images[data-name]
// [data-step]` holding `input[type=range].media-step` and `img.media-image`;
// `div.media-histogram[data-name][data-steps]` (charts/histogram.js);
// `div.media-table[data-name][data-step]` with `select.media-pick` and
// `table.media-table-grid` (a click on `th[data-col]` sorts);
// `div.media-text[data-name][data-step]` with `select.media-pick` and
// `pre.media-text-body`; `div.media-compare[data-name][data-step]` with one
// `input.media-step` and a `div.media-compare-run[data-run-id]` per run.
import { ApiError, getJSON, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { histogramView } from '../charts/histogram.js';
import { colorAt } from '../charts/palette.js';
import { el, fileHref, link, runHref, section } from '../dom.js';
import { formatCount, formatNumber, formatValue, isNumeric } from '../format.js';

const MAX_TABLE_ROWS = 2000;
const LIVE_MS = 5000;
const SMALL_IMAGE = 128;
const LARGE_IMAGE = 360;

/** The path of an image's PNG: `file` is relative to media/, each segment encoded. */
export function mediaFileHref(runId, file) {
  const segments = file.split('/').map(encodeURIComponent).join('/');
  return `${runHref(runId)}/media-file/${segments}`;
}

function mediaPath(runId, name = null) {
  const base = `/api/runs/${encodeURIComponent(runId)}/media`;
  return name === null ? base : `${base}/${encodeURIComponent(name)}`;
}

/**
 * The run page's Media section; it fills itself, or hides when there is
 * nothing. While `isRunning()` it reads the run's media again every few
 * seconds: a new name gets its block, and a name with new items is shown
 * again at its newest step, unless the reader moved its slider or pick back
 * to an older one (then it waits until they come back to the newest).
 */
export function mediaSection(ctx, runId, isRunning = () => false) {
  const body = el('div', { class: 'media-body' }, el('p', { class: 'empty', text: 'Loading the media…' }));
  const element = section('Media', body);
  element.id = 'media';
  element.hidden = true; // until there is media to show: most runs have none
  const blocks = new Map(); // name -> { signature, view, element }
  let busy = false;
  async function fill() {
    if (busy) return;
    busy = true;
    try {
      await fillRunMedia(ctx, runId, body, element, blocks);
    } finally {
      busy = false;
    }
  }
  fill().then(() => { element.dataset.mediaReady = '1'; });
  ctx.every(LIVE_MS, () => {
    if (!document.hidden && isRunning()) fill();
  });
  ctx.onLeave(() => blocks.forEach((block) => block.view.destroy?.()));
  return element;
}

/** What changes in a name's listing when something new is logged under it. */
function signature(entry) {
  return `${entry.kind} ${entry.count ?? ''} ${entry.steps.length} ${entry.steps.at(-1) ?? ''}`;
}

async function fillRunMedia(ctx, runId, body, element, blocks) {
  try {
    const { media = [] } = await getJSON(mediaPath(runId), {}, { signal: ctx.signal });
    element.hidden = !media.length && !blocks.size;
    const stale = media.filter((entry) => {
      const block = blocks.get(entry.name);
      return !block || (block.signature !== signature(entry) && block.view.isNewest());
    });
    const fresh = await Promise.all(stale.map((entry) => nameBlock(ctx, runId, entry)));
    if (!ctx.alive()) return;
    stale.forEach((entry, i) => {
      blocks.get(entry.name)?.view.destroy?.();
      blocks.set(entry.name, { signature: signature(entry), ...fresh[i] });
    });
    if (stale.length || body.firstElementChild?.classList.contains('empty')) {
      body.replaceChildren(...media.map((entry) => blocks.get(entry.name).element));
    }
  } catch (err) {
    if (isAbort(err)) return;
    showError(err);
    element.hidden = false;
    if (!blocks.size) body.replaceChildren(el('p', { class: 'empty', text: 'The media of this run could not be read.' }));
  }
}

async function nameBlock(ctx, runId, entry) {
  const { items = [] } = await getJSON(mediaPath(runId, entry.name), {}, { signal: ctx.signal });
  const head = el('h3', { class: 'media-name' }, el('span', { text: entry.name }),
    el('span', { class: 'muted', text: ` ${entry.kind} · ${formatCount(entry.steps.length)} step${entry.steps.length === 1 ? '' : 's'}` }));
  const view = kindView(ctx, runId, entry, items);
  return { view, element: el('div', { class: 'media-block', dataset: { name: entry.name } }, head, view.element) };
}

/** A name's view: `element`, `isNewest()` (showing its last item) and maybe `destroy()`. */
function kindView(ctx, runId, entry, items) {
  if (entry.kind === 'image') return imagesView(runId, entry.name, items);
  if (entry.kind === 'table') return pickedView(ctx, runId, entry.name, items, 'media-table', showTable);
  if (entry.kind === 'text') return pickedView(ctx, runId, entry.name, items, 'media-text', showText);
  if (entry.kind === 'histogram') {
    const view = histogramView(entry.name, items);
    return { element: view.element, isNewest: () => true, destroy: view.destroy };
  }
  const element = el('p', { class: 'empty', text: `This page cannot show media of kind ${entry.kind}.` });
  return { element, isNewest: () => true };
}

function stepsOf(items) {
  return [...new Set(items.map((i) => i.step))].sort((a, b) => a - b);
}

/**
 * A slider over `steps` (the last chosen first) that calls `onStep(step)`
 * on each move; `show()` calls it for the current position.
 */
function stepSlider(steps, onStep, label) {
  const input = el('input', {
    type: 'range', class: 'media-step', min: '0', max: String(Math.max(0, steps.length - 1)),
    step: '1', value: String(Math.max(0, steps.length - 1)), 'aria-label': label,
    disabled: steps.length < 2,
  });
  const text = el('span', { class: 'media-step-label' });
  function show() {
    const index = Number(input.value);
    text.textContent = `step ${formatNumber(steps[index])} (${formatCount(index + 1)} of ${formatCount(steps.length)})`;
    onStep(steps[index]);
  }
  input.addEventListener('input', show);
  const isLast = () => Number(input.value) === steps.length - 1;
  return { element: el('div', { class: 'media-slider' }, input, text), show, isLast };
}

function imagesView(runId, name, items) {
  const grid = el('div', { class: 'media-grid' });
  const element = el('div', { class: 'media-images', dataset: { name } });
  const slider = stepSlider(stepsOf(items), (step) => {
    element.dataset.step = String(step);
    grid.replaceChildren(...items.filter((i) => i.step === step).map((i) => imageFigure(runId, name, i)));
  }, `Step of ${name}`);
  element.append(slider.element, grid);
  slider.show();
  return { element, isNewest: slider.isLast };
}

/** One image, small ones scaled up by a whole factor (drawn pixelated), large ones down. */
function imageFigure(runId, name, item) {
  const img = el('img', { class: 'media-image', src: mediaFileHref(runId, item.file), alt: `${name} at step ${item.step}` });
  const { width, height } = item;
  if (width > 0 && height > 0) {
    const scale = width < SMALL_IMAGE ? Math.floor(SMALL_IMAGE / width) : Math.min(1, LARGE_IMAGE / width);
    img.width = Math.round(width * scale);
    img.height = Math.round(height * scale);
    if (scale > 1) img.classList.add('pixelated');
  }
  const caption = item.caption ? el('figcaption', { text: item.caption }) : null;
  return el('figure', { class: 'media-figure' }, img, caption);
}

/**
 * A view of one item at a time, chosen in a select (one option per item:
 * a step logged twice shows twice); `show(ctx, runId, item, box)` fills
 * the box. The last item is chosen first.
 */
function pickedView(ctx, runId, name, items, kindClass, show) {
  const counts = new Map();
  const labels = items.map((item) => {
    const n = (counts.get(item.step) ?? 0) + 1;
    counts.set(item.step, n);
    return n > 1 ? `step ${formatNumber(item.step)} (${n})` : `step ${formatNumber(item.step)}`;
  });
  const pick = el('select', { class: 'media-pick', 'aria-label': `Step of ${name}` },
    items.map((_, i) => el('option', { value: String(i), text: labels[i] })));
  pick.value = String(items.length - 1);
  const box = el('div', { class: 'media-content' });
  const element = el('div', { class: kindClass, dataset: { name } }, el('div', { class: 'media-toolbar' }, pick), box);
  let shown = 0;
  async function choose() {
    const item = items[Number(pick.value)];
    const ticket = ++shown;
    element.dataset.step = String(item.step);
    try {
      const node = await show(ctx, runId, item);
      if (ticket === shown && ctx.alive()) box.replaceChildren(node);
    } catch (err) {
      if (isAbort(err) || ticket !== shown) return;
      box.replaceChildren(el('p', { class: 'empty', text: `Step ${item.step} could not be read: ${err.message}` }));
    }
  }
  pick.addEventListener('change', choose);
  if (items.length) choose();
  return { element, isNewest: () => Number(pick.value) === items.length - 1 };
}

async function showTable(ctx, runId, item) {
  const data = await getJSON(fileHref(runId, `media/${item.file}`), {}, { signal: ctx.signal });
  return sortableTable(data.columns ?? [], data.rows ?? []);
}

async function showText(ctx, runId, item) {
  const response = await fetch(fileHref(runId, `media/${item.file}`), { credentials: 'same-origin', signal: ctx.signal });
  if (!response.ok) throw new ApiError(response.status, 'HTTPError', `${response.status} ${response.statusText}`.trim());
  return el('pre', { class: 'media-text-body', text: await response.text() });
}

const NON_FINITE = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

// A cell as a number when it is one (the API spells non-finite ones as
// strings), else null.
function numberOf(value) {
  if (typeof value === 'number') return value;
  return typeof value === 'string' && value in NON_FINITE ? NON_FINITE[value] : null;
}

// Empty cells and NaN sort last in either direction.
function isLast(value) {
  return value === null || value === undefined || value === '' || Number.isNaN(numberOf(value));
}

/** Orders cells: numbers by value before text (in natural order). */
function compareCells(a, b) {
  const numA = numberOf(a);
  const numB = numberOf(b);
  if (numA !== null && numB !== null) return numA === numB ? 0 : numA < numB ? -1 : 1;
  if ((numA === null) !== (numB === null)) return numA !== null ? -1 : 1;
  return formatValue(a).localeCompare(formatValue(b), undefined, { numeric: true });
}

/** A table of `rows` (arrays, in `columns` order) that sorts on a header click. */
function sortableTable(columns, rows) {
  const order = { col: -1, descending: false };
  const heads = columns.map((name, col) => el('th', { class: 'sortable', dataset: { col: String(col) }, text: String(name) }));
  const tbody = el('tbody');
  const note = el('p', { class: 'muted' });
  function render() {
    const sorted = order.col < 0 ? rows : [...rows].sort((a, b) => {
      const [x, y] = [a[order.col], b[order.col]];
      if (isLast(x) || isLast(y)) return isLast(x) - isLast(y);
      return order.descending ? -compareCells(x, y) : compareCells(x, y);
    });
    tbody.replaceChildren(...sorted.slice(0, MAX_TABLE_ROWS).map((row) => el('tr', {}, columns.map((_, i) => cell(row[i])))));
    heads.forEach((th, i) => {
      th.setAttribute('aria-sort', i !== order.col ? 'none' : order.descending ? 'descending' : 'ascending');
    });
    note.textContent = rows.length > MAX_TABLE_ROWS ? `The first ${formatCount(MAX_TABLE_ROWS)} of ${formatCount(rows.length)} rows are shown.` : '';
  }
  heads.forEach((th, col) => th.addEventListener('click', () => {
    order.descending = order.col === col ? !order.descending : false;
    order.col = col;
    render();
  }));
  render();
  return el('div', { class: 'media-table-wrap' },
    el('table', { class: 'grid media-table-grid' }, el('thead', {}, el('tr', {}, heads)), tbody), note);
}

function cell(value) {
  const missing = value === null || value === undefined;
  return el('td', { class: missing ? 'missing' : isNumeric(value) ? 'num' : 'text', text: missing ? '—' : formatValue(value) });
}

/**
 * The compare page's Media section: for each image name that two or more
 * of `runs` logged, their images side by side at one step.
 */
export function mediaCompare(ctx, runs) {
  const body = el('div', { class: 'media-body' });
  const element = section('Media', body);
  element.id = 'media';
  element.hidden = true;
  fillCompare(ctx, runs, body, element);
  return element;
}

async function fillCompare(ctx, runs, body, element) {
  try {
    // A run whose media cannot be read takes no part; the others still compare.
    const lists = await Promise.all(runs.map((r) => getJSON(mediaPath(r.id), {}, { signal: ctx.signal })
      .catch((err) => { if (isAbort(err)) throw err; return { media: [] }; })));
    const views = await Promise.all(sharedImageNames(lists).map(async ([name, holders]) => {
      const answers = await Promise.all(holders.map((i) => getJSON(mediaPath(runs[i].id, name), {}, { signal: ctx.signal })));
      return compareView(name, holders.map((i, k) => ({ run: runs[i], color: colorAt(i), items: answers[k].items ?? [] })));
    }));
    if (!ctx.alive()) return;
    body.replaceChildren(...views);
    element.hidden = !views.length;
  } catch (err) {
    if (isAbort(err)) return;
    showError(err);
  }
  element.dataset.mediaReady = '1';
}

/** [name, indexes of the runs holding it] for image names of two or more runs. */
function sharedImageNames(lists) {
  const holders = new Map();
  lists.forEach((list, i) => {
    for (const entry of list.media ?? []) {
      if (entry.kind !== 'image') continue;
      if (!holders.has(entry.name)) holders.set(entry.name, []);
      holders.get(entry.name).push(i);
    }
  });
  return [...holders].filter(([, indexes]) => indexes.length >= 2);
}

function compareView(name, columns) {
  const element = el('div', { class: 'media-compare', dataset: { name } });
  const cells = columns.map(({ run, color }) => {
    const swatch = el('span', { class: 'swatch' });
    swatch.style.backgroundColor = color;
    const images = el('div', { class: 'media-grid' });
    const column = el('div', { class: 'media-compare-run', dataset: { runId: run.id } },
      el('div', { class: 'media-compare-head' }, swatch, link(runHref(run.id), run.name || run.id, { title: run.id })), images);
    return { run, images, column };
  });
  const slider = stepSlider(stepsOf(columns.flatMap((c) => c.items)), (step) => {
    element.dataset.step = String(step);
    cells.forEach(({ run, images }, k) => {
      const here = columns[k].items.filter((i) => i.step === step);
      images.replaceChildren(...(here.length
        ? here.map((i) => imageFigure(run.id, name, i))
        : [el('p', { class: 'empty', text: `No image at step ${formatNumber(step)}.` })]));
    });
  }, `Step of ${name}`);
  element.append(el('h3', { class: 'media-name', text: name }), slider.element,
    el('div', { class: 'media-compare-row' }, cells.map((c) => c.column)));
  slider.show();
  return element;
}
