// The compare page (/compare?runs=A,B,...): the config keys that differ,
// the rest folded, metric summaries side by side, overlaid curves, and the
// images of names the runs share.
import { getJSON, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { createCharts } from '../charts/charts.js';
import { colorAt } from '../charts/palette.js';
import { el, link, runHref, section } from '../dom.js';
import { formatCount, formatValue, isNumeric } from '../format.js';
import { listParam } from '../url.js';
import { mediaCompare } from './run-media.js';
import { statusBadge } from './runs-table.js';

const SUMMARIES = ['last', 'min', 'max'];

/** Renders the compare page of the runs in the URL. */
export async function renderCompare(root, ctx) {
  const ids = listParam('runs');
  let data;
  try {
    data = await getJSON('/api/compare', { runs: ids }, { signal: ctx.signal });
  } catch (err) {
    if (isAbort(err)) return;
    showError(err);
    root.append(el('p', { class: 'empty', text: 'Choose two or more runs in the table, then Compare.' }));
    document.body.dataset.ready = '1';
    return;
  }
  const runs = data.runs ?? [];
  const charts = createCharts(ctx);
  root.append(
    el('h1', { text: `Compare ${formatCount(runs.length)} runs` }),
    section('Config that differs', differTable(runs, data.differ ?? []), sameDetails(data.same ?? [])),
    section('Metrics', metricsTable(runs, data.metrics ?? [])),
    el('h2', { class: 'charts-title', text: 'Charts' }), charts.element,
    mediaCompare(ctx, runs),
  );
  charts.setRuns(runs.map((r) => ({ id: r.id, name: r.name, status: r.status })));
  document.body.dataset.ready = '1';
}

function runHead(runs) {
  return runs.map((r, i) => {
    const swatch = el('span', { class: 'swatch' });
    swatch.style.backgroundColor = colorAt(i);
    return el('th', { class: 'run-col', dataset: { runId: r.id } },
      swatch, link(runHref(r.id), r.name || r.id, { title: r.id }), el('div', {}, statusBadge(r.status)));
  });
}

function valueCell(value) {
  const missing = value === null || value === undefined;
  return el('td', { class: missing ? 'missing' : isNumeric(value) ? 'num' : 'text', text: missing ? '—' : formatValue(value) });
}

function differTable(runs, differ) {
  if (!differ.length) return el('p', { class: 'empty', text: 'The configs are the same.' });
  return el('table', { id: 'compare-differ', class: 'grid compare' },
    el('thead', {}, el('tr', {}, el('th', { text: 'config key' }), runHead(runs))),
    el('tbody', {}, differ.map((d) => el('tr', {}, el('td', { class: 'key', text: d.key }), (d.values ?? []).map(valueCell)))));
}

function sameDetails(same) {
  if (!same.length) return null;
  return el('details', { class: 'same-keys' },
    el('summary', { text: `${formatCount(same.length)} key${same.length === 1 ? '' : 's'} the same` }),
    el('table', { class: 'grid' }, el('tbody', {}, same.map((s) => el('tr', {},
      el('td', { class: 'key', text: s.key }), valueCell(s.value))))));
}

function metricsTable(runs, metrics) {
  if (!metrics.length) return el('p', { class: 'empty', text: 'No metrics logged.' });
  const rows = metrics.flatMap((m) => SUMMARIES.map((summary, i) => el('tr', { class: i === 0 ? 'first' : '' },
    i === 0 ? el('td', { class: 'key', rowspan: String(SUMMARIES.length), text: m.name }) : null,
    el('td', { class: 'muted', text: summary }),
    (m.values ?? []).map((v) => valueCell(v ? v[summary] : null)))));
  return el('table', { class: 'grid compare' },
    el('thead', {}, el('tr', {}, el('th', { text: 'metric' }), el('th', {}), runHead(runs))),
    el('tbody', {}, rows));
}
