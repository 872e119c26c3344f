// The run page (/runs/{id}): header, tags, notes, config, metrics, charts,
// log, files, git, environment and journal mentions.
import { getJSON, getRunsInfo, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { createCharts } from '../charts/charts.js';
import { el, factsTable, section } from '../dom.js';
import { formatDateTime, formatDuration } from '../format.js';
import { metricsTable, environmentSection, filesSection, gitSection, journalSection } from './run-facts.js';
import { notesEditor, tagEditor } from './run-editors.js';
import { logView } from './run-log.js';
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

  const charts = createCharts(ctx, { groups: false });
  root.append(
    notesEditor(run.id, data.notes, data.notes_html),
    el('div', { class: 'two-columns' },
      section('Config', Object.keys(data.config ?? {}).length ? tree(data.config, { openDepth: 2 }) : el('p', { class: 'empty', text: 'No config.' })),
      section('Metrics', metricsTable(data.metrics))),
    el('h2', { class: 'charts-title', text: 'Charts' }), charts.element,
    logView(ctx, run.id, () => state.status === 'running'),
    filesSection(run.id, data.files, data.checkpoints),
    gitSection(data.git, data.diff, data.diff_truncated),
    environmentSection(data.environment),
    journalSection(data.journal),
  );
  charts.setRuns([{ id: run.id, name: run.name, status: run.status }]);
  document.body.dataset.ready = '1';
  if (run.status === 'running') watchStatus(ctx, run.id, state, header);
}

/** The run's duration: given, else from its start to its end (or now). */
function durationOf(run) {
  if (typeof run.duration === 'number') return run.duration;
  if (typeof run.started !== 'number') return null;
  return (typeof run.ended === 'number' ? run.ended : Date.now() / 1000) - run.started;
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
  const element = el('header', { class: 'run-header card' },
    el('h1', { text: run.name || run.id }), facts,
    el('div', { class: 'tags-row' }, el('span', { class: 'muted', text: 'tags' }), tagEditor(run.id, run.tags ?? [])));
  return { element, status, duration, ended };
}

// While the run is running, its status and duration are refreshed, which
// also tells the log when to stop tailing.
function watchStatus(ctx, runId, state, header) {
  ctx.every(STATUS_MS, async () => {
    if (document.hidden || state.status !== 'running') return;
    try {
      const [info] = await getRunsInfo([runId], { signal: ctx.signal });
      if (!info) return;
      state.status = info.status;
      header.status.replaceChildren(statusBadge(info.status));
      header.duration.textContent = formatDuration(durationOf(info));
      header.ended.textContent = formatDateTime(info.ended, { seconds: true });
    } catch (err) {
      if (!isAbort(err) && ctx.alive()) showError(err);
    }
  });
}
