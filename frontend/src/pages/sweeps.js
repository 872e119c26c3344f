// The sweeps page (/sweeps): every sweep of the store, newest first, with
// its trials counted by state; refreshed while a sweep has running trials.
import { getJSON, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { el, link } from '../dom.js';
import { formatCount, formatDateTime, statusClass } from '../format.js';

const STATES = ['pending', 'running', 'finished', 'failed', 'killed', 'pruned'];
const POLL_MS = 5000;

/** The page path of a sweep. */
export function sweepHref(id) {
  return `/sweeps/${encodeURIComponent(id)}`;
}

/** The states that hold trials, as coloured "finished 4" badges. */
export function stateCounts(counts, attrs = {}) {
  const shown = STATES.filter((s) => (counts?.[s] ?? 0) > 0);
  return el('span', { class: 'state-counts', ...attrs },
    shown.map((s) => el('span', { class: `status ${statusClass(s)}`, dataset: { state: s } },
      el('span', { class: 'dot' }), `${s} ${formatCount(counts[s])}`)));
}

/** Renders the list of sweeps into root. */
export async function renderSweeps(root, ctx) {
  const holder = el('div');
  root.append(el('h1', { text: 'Sweeps' }), holder);
  let running = false;
  const load = async () => {
    const data = await getJSON('/api/sweeps', {}, { signal: ctx.signal });
    const sweeps = data.sweeps ?? [];
    running = sweeps.some((s) => (s.counts?.running ?? 0) > 0);
    holder.replaceChildren(sweeps.length ? sweepsTable(sweeps) : emptyNote());
  };
  try {
    await load();
  } catch (err) {
    if (isAbort(err)) return;
    showError(err);
  }
  document.body.dataset.ready = '1';
  ctx.every(POLL_MS, () => {
    if (running) load().catch(showError);
  });
}

function emptyNote() {
  return el('p', { class: 'empty', text: 'No sweeps in this store yet. Start one with `runlab sweep run sweep.yaml`.' });
}

function sweepsTable(sweeps) {
  const head = ['sweep', 'id', 'method', 'trials', 'states', 'created', 'executor', 'file'];
  return el('div', { class: 'table-wrap' },
    el('table', { id: 'sweeps-table', class: 'runs' },
      el('thead', {}, el('tr', {}, head.map((h) => el('th', { text: h })))),
      el('tbody', {}, sweeps.map(sweepRow))));
}

function sweepRow(sweep) {
  const total = sweep.trials ?? STATES.reduce((n, s) => n + (sweep.counts?.[s] ?? 0), 0);
  return el('tr', { dataset: { sweepId: sweep.id } },
    el('td', { class: 'name' }, link(sweepHref(sweep.id), sweep.name || sweep.id, { title: sweep.id })),
    el('td', { class: 'commit', text: sweep.id }),
    el('td', { text: sweep.method ?? '' }),
    el('td', { class: 'num', text: formatCount(total) }),
    el('td', {}, stateCounts(sweep.counts)),
    el('td', { class: 'nowrap', title: formatDateTime(sweep.created, { seconds: true }), text: formatDateTime(sweep.created) }),
    el('td', { text: sweep.executor ?? '' }),
    el('td', { class: 'text', title: sweep.file ?? '', text: sweep.file ?? '' }));
}
