// The sweep page (/sweeps/{id}): the sweep's counts, a parallel-coordinates
// plot of its swept parameters against a chosen metric summary, and the
// trials table, sorted here; brushing the plot filters the table. The
// metric (`metric`), the sort (`sort`) and the brushes (`brush`, JSON of
// {axis: [lo, hi]} as fractions of each axis) live in the URL query. The page
// reads the sweep again every few seconds while trials are running.
import { getJSON, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { createParallel } from '../charts/parallel.js';
import { el, link, runHref } from '../dom.js';
import { formatCount, formatDateTime, formatDuration, formatValue, isNumeric } from '../format.js';
import { param, setParams } from '../url.js';
import { statusBadge } from './runs-table.js';
import { stateCounts } from './sweeps.js';

const SUMMARIES = ['last', 'min', 'max'];
const NON_FINITE = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
const MAX_METRIC_COLUMNS = 5;
const POLL_MS = 5000;

/** Renders the sweep named by `ref` (id, id prefix or name) into root. */
export async function renderSweep(root, ctx, ref) {
  const load = () => getJSON(`/api/sweeps/${encodeURIComponent(ref)}`, {}, { signal: ctx.signal });
  let data;
  try {
    data = await load();
  } catch (err) {
    if (isAbort(err)) return;
    showError(err);
    root.append(el('p', { class: 'empty', text: `No sweep '${ref}' to show.` }), link('/sweeps', 'All sweeps'));
    document.body.dataset.ready = '1';
    return;
  }
  const view = createSweepView();
  root.append(view.element);
  ctx.onLeave(view.destroy);
  // Drawn once attached: the plot takes the width of its container.
  view.update(data);
  document.body.dataset.ready = '1';
  ctx.every(POLL_MS, () => {
    if (view.isLive()) load().then(view.update).catch(showError);
  });
}

/** The metric key `name.summary` as [name, summary]. */
function splitMetric(key) {
  const dot = key.lastIndexOf('.');
  return [key.slice(0, dot), key.slice(dot + 1)];
}

function objectiveKey(data) {
  const o = data.objective;
  return o && o.metric ? `${o.metric}.${o.summary || 'last'}` : null;
}

/** The `name.summary` choices: the objective first, then every metric's. */
function metricChoices(data) {
  const keys = (data.metrics ?? []).flatMap((m) => SUMMARIES.map((s) => `${m}.${s}`));
  const objective = objectiveKey(data);
  return objective ? [objective, ...keys.filter((k) => k !== objective)] : keys;
}

function defaultMetric(data, choices) {
  const plain = (data.metrics ?? []).find((m) => !m.startsWith('sys/'));
  return objectiveKey(data) ?? (plain ? `${plain}.last` : choices[0] ?? null);
}

function paramValue(trial, name) {
  if (trial.params && name in trial.params) return trial.params[name];
  return name === 'seed' ? trial.seed : null;
}

/** A metric summary of the trial's run, as the API wrote it. */
function metricValue(trial, key, objective) {
  const [name, summary] = splitMetric(key);
  const value = trial.run?.metrics?.[name]?.[summary];
  if (value === undefined || value === null) return key === objective ? trial.objective ?? null : null;
  return value;
}

function trialDuration(trial) {
  if (typeof trial.run?.duration === 'number') return trial.run.duration;
  return typeof trial.started === 'number' && typeof trial.ended === 'number' ? trial.ended - trial.started : null;
}

/** A value to sort by: numbers as numbers, non-finite spellings too, else text. */
function sortable(value) {
  if (typeof value === 'string' && value in NON_FINITE) return NON_FINITE[value];
  if (value === null || value === undefined || value === '') return null;
  return typeof value === 'number' ? value : formatValue(value);
}

function plotNumber(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Orders two values ascending; missing values and NaN go last either way. */
function compareValues(a, b, desc) {
  const [x, y] = [sortable(a), sortable(b)];
  const xMissing = x === null || Number.isNaN(x);
  const yMissing = y === null || Number.isNaN(y);
  if (xMissing || yMissing) return xMissing - yMissing;
  let order;
  if (typeof x === 'number' && typeof y === 'number') order = x - y;
  else if (typeof x === 'number' || typeof y === 'number') order = typeof x === 'number' ? -1 : 1;
  else order = x.localeCompare(y, undefined, { numeric: true });
  return desc ? -order : order;
}

/** The `brush` parameter: JSON {axis: [lo, hi]}, fractions of each axis; {} when unreadable. */
function parseBrushes(text) {
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

function parseSort(text) {
  const key = text || 'index';
  return key.startsWith('-') ? { column: key.slice(1), desc: true } : { column: key, desc: false };
}

function createSweepView() {
  let data = null;
  let metric = null;
  let inside = null; // trial indexes inside the brushes; null: no brush
  let sort = parseSort(param('sort'));
  const header = el('div', { class: 'card sweep-header' });
  const picker = el('select', { id: 'pc-metric', title: 'The metric summary of the last axis, which colours the lines' });
  const plot = createParallel({ onBrush: (keys) => {
    inside = plot.hasBrushes() ? keys : null;
    setParams({ brush: plot.hasBrushes() ? JSON.stringify(plot.brushRanges()) : null });
    renderTable();
  } });
  plot.setBrushRanges(parseBrushes(param('brush')));
  const plotNote = el('p', { class: 'empty', hidden: true });
  const table = el('table', { id: 'sweep-trials', class: 'runs trials' });
  const shown = el('span', { id: 'trials-shown', class: 'muted' });
  const clear = el('button', { id: 'pc-clear', type: 'button', text: 'Clear brushes', hidden: true,
    onclick: () => plot.clearBrushes() });
  picker.addEventListener('change', () => {
    metric = picker.value;
    setParams({ metric });
    renderPlot();
  });
  const element = el('div', { class: 'sweep-page' },
    header,
    el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h2', { text: 'Parameters and metric' }),
        el('label', { class: 'control' }, el('span', { class: 'muted', text: 'metric ' }), picker)),
      el('p', { class: 'muted pc-help', text: 'Drag along an axis to keep the trials in that range; double-click an axis to clear it.' }),
      plotNote, plot.element),
    el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h2', { text: 'Trials' }), el('span', { class: 'pager' }, shown, clear)),
      el('div', { class: 'table-wrap' }, table)));

  /** Shows a (new) answer of the API, keeping metric, sort and brushes. */
  function update(next) {
    data = next;
    renderHeader();
    fillPicker();
    renderPlot();
  }

  function renderHeader() {
    const trials = data.trials ?? [];
    const where = `sweep = '${data.id}'`;
    header.replaceChildren(
      el('h1', { text: data.name || data.id }),
      el('div', { class: 'sweep-facts muted' },
        el('span', { class: 'commit', text: data.id }),
        ` · ${data.method ?? ''} · ${data.executor ?? ''} · ${formatDateTime(data.created)} · `,
        el('span', { class: 'commit', text: data.file ?? '' })),
      el('div', { class: 'tags-row' },
        el('strong', { id: 'trial-count', text: `${formatCount(trials.length)} trial${trials.length === 1 ? '' : 's'}` }),
        stateCounts(data.counts, { id: 'sweep-counts' }),
        link(`/?where=${encodeURIComponent(where)}`, 'its runs in the runs table')));
  }

  function fillPicker() {
    const choices = metricChoices(data);
    const wanted = metric ?? param('metric');
    metric = choices.includes(wanted) ? wanted : defaultMetric(data, choices);
    picker.replaceChildren(...choices.map((key) => {
      const [name, summary] = splitMetric(key);
      return el('option', { value: key, text: `${name} · ${summary}` });
    }));
    if (!choices.length) picker.append(el('option', { value: '', text: 'no metrics yet' }));
    picker.disabled = !choices.length;
    picker.value = metric ?? '';
  }

  function renderPlot() {
    const objective = objectiveKey(data);
    const axes = (data.parameters ?? []).map((p) => ({ name: p, label: p }));
    if (metric) {
      const [name, summary] = splitMetric(metric);
      axes.push({ name: metric, label: `${name} (${summary})` });
    }
    plotNote.hidden = axes.length > 0;
    plotNote.textContent = 'The trials have no parameters and no metrics to plot.';
    const rows = (data.trials ?? []).map((t) => {
      const values = Object.fromEntries((data.parameters ?? []).map((p) => [p, paramValue(t, p)]));
      // Non-finite summaries have no place on an axis: they meet it at n/a.
      if (metric) values[metric] = plotNumber(metricValue(t, metric, objective));
      return { key: t.index, values, title: trialTitle(t) };
    });
    plot.render(axes, rows);
  }

  function trialTitle(trial) {
    const params = (data.parameters ?? []).map((p) => `${p}=${formatValue(paramValue(trial, p))}`);
    const value = metric ? ` → ${formatValue(metricValue(trial, metric, objectiveKey(data)))}` : '';
    return `trial ${trial.index}: ${params.join(', ')}${value}`;
  }

  function metricKeys() {
    const plain = (data.metrics ?? []).filter((m) => !m.startsWith('sys/')).map((m) => `${m}.last`);
    return [...new Set([objectiveKey(data), metric, ...plain].filter(Boolean))].slice(0, MAX_METRIC_COLUMNS);
  }

  function columns() {
    const objective = objectiveKey(data);
    const metrics = metricKeys().map((key) => {
      const [name, summary] = splitMetric(key);
      return { key: `metric.${key}`, label: name, small: key === objective ? `${summary} · objective` : summary,
        value: (t) => metricValue(t, key, objective) };
    });
    return [
      { key: 'index', label: '#', value: (t) => t.index },
      { key: 'state', label: 'state', value: (t) => t.state, cell: (t) => el('td', {}, statusBadge(t.state)) },
      ...(data.parameters ?? []).map((p) => ({ key: `param.${p}`, label: p, small: 'param', value: (t) => paramValue(t, p) })),
      { key: 'run', label: 'run', value: (t) => t.run?.name || t.run?.id || t.run_ids?.at(-1), cell: runCell },
      ...metrics,
      { key: 'duration', label: 'duration', value: trialDuration,
        cell: (t) => el('td', { class: 'num', text: formatDuration(trialDuration(t)) }) },
    ];
  }

  function renderTable() {
    const cols = columns();
    const col = cols.find((c) => c.key === sort.column) ?? cols[0];
    const all = data.trials ?? [];
    const rows = all.filter((t) => inside === null || inside.has(t.index))
      .sort((a, b) => compareValues(col.value(a), col.value(b), sort.desc) || a.index - b.index);
    const body = el('tbody', {}, rows.map((t) => el('tr', { dataset: { trial: String(t.index) } },
      cols.map((c) => (c.cell ? c.cell(t) : valueCell(c.value(t)))))));
    if (!rows.length) {
      body.append(el('tr', {}, el('td', { class: 'empty', colspan: String(cols.length), text: 'No trials inside the brushes.' })));
    }
    table.replaceChildren(el('thead', {}, el('tr', {}, cols.map((c) => headerCell(c, col)))), body);
    shown.textContent = inside === null ? `${formatCount(all.length)} trials`
      : `${formatCount(rows.length)} of ${formatCount(all.length)} trials inside the brushes`;
    clear.hidden = inside === null;
  }

  function headerCell(column, sorted) {
    const arrow = column === sorted ? (sort.desc ? '▼' : '▲') : '';
    const th = el('th', { class: 'sortable', dataset: { column: column.key }, title: `${column.key}\nClick to sort` },
      el('span', { class: 'th-main' }, el('span', { class: 'th-text', text: column.label }),
        arrow ? el('span', { class: 'sort-arrow', text: arrow }) : null),
      column.small ? el('span', { class: 'th-small', text: column.small }) : null);
    th.addEventListener('click', () => {
      sort = { column: column.key, desc: column === sorted ? !sort.desc : false };
      setParams({ sort: `${sort.desc ? '-' : ''}${sort.column}` });
      renderTable();
    });
    return th;
  }

  return {
    element,
    update,
    isLive: () => (data?.counts?.running ?? 0) > 0,
    destroy: () => plot.destroy(),
  };
}

function runCell(trial) {
  const run = trial.run;
  if (run) return el('td', { class: 'name' }, link(runHref(run.id), run.name || run.id, { title: run.id }));
  const gone = trial.run_ids?.at(-1);
  return el('td', { class: 'muted', title: gone ? 'This run is no longer in the store.' : null, text: gone ?? '—' });
}

function valueCell(value) {
  const text = formatValue(value);
  return el('td', { class: isNumeric(value) ? 'num' : 'text', text, title: text.length > 24 ? text : null });
}
