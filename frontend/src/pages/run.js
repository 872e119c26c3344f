// The run page (/runs/{id}): header, tags, notes, config, metrics, charts,
// media, log, files, git, environment and journal mentions.
import { getJSON, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { createCharts } from '../charts/charts.js';
import { el, factsTable, section } from '../dom.js';
import { formatDateTime, formatDuration } from '../format.js';
import { environmentSection, filesSection, gitSection, journalSection, summariesFromCharts, metricsTable } from './run-facts.js';
import { notesEditor, tagEditor } from './run-editors.js';
import { logView } from './run-log.js';
import { mediaSection } from './run-media.js';
import { statusBadge } from './runs-table.js';
import { tree } from './tree.js';

const STATUS_MS = 3000;

/** Renders the page of run `id` (an id, a unique prefix or a name). */
export async function renderRun(root, ctx, id) {
  let data;
  try {
    data = await getJSON(`/api/runs/${encodeURIComponent(id)}`, {}, { signal: ctx.signal });
  } catch (err) {
    if (isAbort(err)) return;
    showError(err);
    root.append(el('p', { class: 'empty', text: `Run ${id} could not be shown.` }));
    document.body.dataset.ready = '1';
    return;
  }
  const run = data.run;
  document.title = `${run.name || run.id} · runlab`;
  ctx.onLeave(() => { document.title = 'runlab'; });
  const state = { status: run.status };
  const header = runHeader(run);
  root.append(header.element);

  const metrics = metricsView(run.id, data.metrics);
  const charts = createCharts(ctx, { groups: false, onLoad: (model) => metrics.setCharted(model) });
  root.append(
    notesEditor(run.id, data.notes, data.notes_html),
    el('div', { class: 'two-columns' },
      section('Config', Object.keys(data.config ?? {}).length ? tree(data.config, { openDepth: 2 }) : el('p', { class: 'empty', text: 'No config.' })),
      section('Metrics', metrics.element)),
    el('h2', { class: 'charts-title', text: 'Charts' }), charts.element,
    mediaSection(ctx, run.id, () => state.status === 'running'),
    logView(ctx, run.id, () => state.status === 'running'),
    filesSection(run.id, data.files, data.checkpoints),
    gitSection(data.git, data.diff, data.diff_truncated),
    environmentSection(data.environment),
    journalSection(data.journal),
  );
  charts.setRuns([{ id: run.id, name: run.name, status: run.status }]);
  document.body.dataset.ready = '1';
  if (run.status === 'running') watchRun(ctx, run.id, state, header, metrics);
}

/**
 * The metrics table: the run's summaries, or, when it has none (an
 * unreadable record), summaries computed from the charted points once the
 * charts load; "No metrics logged." only when the charts found none either.
 */
function metricsView(runId, initial) {
  const element = el('div', { class: 'metrics-summary' });
  let summaries = initial ?? {};
  let charted; // undefined: charts loading; null: they failed; else their model
  let shown = '';

  function content() {
    if (Object.keys(summaries).length) return [metricsTable(summaries)];
    if (charted === undefined) return [el('p', { class: 'empty', text: 'Loading the metrics…' })];
    if (charted === null) return [el('p', { class: 'empty', text: 'Summaries unavailable.' })];
    if (!charted.size) return [el('p', { class: 'empty', text: 'No metrics logged.' })];
    return [metricsTable(summariesFromCharts(charted, runId)),
      el('p', { class: 'muted', text: 'The run\'s summaries are unavailable; these are computed from its charted points.' })];
  }

  function render() {
    const nodes = content();
    const key = nodes.map((n) => n.outerHTML).join('');
    if (key === shown) return;
    shown = key;
    element.replaceChildren(...nodes);
  }

  render();
  return {
    element,
    setSummaries(next) { summaries = next ?? {}; render(); },
    setCharted(model) { charted = model; render(); },
  };
}

/** The run's duration: given, else from its start to its end (or to now, while it runs). */
function durationOf(run) {
  if (typeof run.duration === 'number') return run.duration;
  if (typeof run.started !== 'number') return null;
  if (typeof run.ended === 'number') return run.ended - run.started;
  return run.status === 'running' ? Date.now() / 1000 - run.started : null;
}

// An unreadable record is a store problem (runlab doctor); a failed or killed
// run was read fine, and its error is why it ended.
function runProblem(run) {
  if (run.status === 'unreadable') {
    return el('div', { class: 'run-problem' },
      el('p', { id: 'run-error', class: 'run-error', text: `This run could not be read: ${run.error || 'no reason given'}` }),
      el('p', { class: 'muted', text: 'runlab doctor checks the store; the charts below show what the run folder holds.' }));
  }
  if (!run.error) return null;
  const how = run.status === 'killed' ? 'was stopped' : 'ended with an error';
  return el('div', { class: 'run-problem' },
    el('p', { id: 'run-error', class: 'run-error', text: `This run ${how}: ${run.error}` }),
    el('p', { class: 'muted', text: 'The end of its log, below, says more.' }));
}

function runHeader(run) {
  const status = el('span', {}, statusBadge(run.status));
  const duration = el('span', { text: formatDuration(durationOf(run)) });
  const ended = el('span', { text: formatDateTime(run.ended, { seconds: true }) });
  const facts = factsTable([
    ['id', el('code', { text: run.id })],
    ['status', status],
    ['started', formatDateTime(run.started, { seconds: true })],
    ['ended', ended],
    ['duration', duration],
    ['experiment', run.experiment], ['sweep', run.sweep], ['host', run.host],
    ['exit code', run.exit_code === null || run.exit_code === undefined ? null : String(run.exit_code)],
  ]);
  const problem = runProblem(run);
  const element = el('header', { class: 'run-header card' },
    el('h1', { text: run.name || run.id }), problem, facts,
    el('div', { class: 'tags-row' }, el('span', { class: 'muted', text: 'tags' }), tagEditor(run.id, run.tags ?? [])));
  return { element, status, duration, ended };
}

// While the run is running, its status, duration and metric summaries are
// refreshed (which also tells the log when to stop tailing); the notes and
// tags are left alone, as the user may be typing in them.
function watchRun(ctx, runId, state, header, metrics) {
  ctx.every(STATUS_MS, async () => {
    if (document.hidden || state.status !== 'running') return;
    try {
      const data = await getJSON(`/api/runs/${encodeURIComponent(runId)}`, {}, { signal: ctx.signal });
      const info = data.run;
      state.status = info.status;
      header.status.replaceChildren(statusBadge(info.status));
      header.duration.textContent = formatDuration(durationOf(info));
      header.ended.textContent = formatDateTime(info.ended, { seconds: true });
      metrics.setSummaries(data.metrics);
    } catch (err) {
      if (!isAbort(err) && ctx.alive()) showError(err);
    }
  });
}
