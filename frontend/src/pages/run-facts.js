// The read-only sections of the run page: metric summaries, files, git,
// environment and the journal entries that mention the run.
import { el, factsTable, fileHref, link, section } from '../dom.js';
import { formatBytes, formatCount, formatDateTime, formatValue, shortCommit } from '../format.js';
import { tree } from './tree.js';

const SUMMARIES = ['last', 'min', 'max', 'count', 'last_step'];

/** A table of metric name x summary. */
export function metricsTable(metrics) {
  const names = Object.keys(metrics ?? {}).sort();
  if (!names.length) return el('p', { class: 'empty', text: 'No metrics logged.' });
  const head = el('tr', {}, el('th', { text: 'metric' }), SUMMARIES.map((s) => el('th', { class: 'num', text: s.replace('_', ' ') })));
  const rows = names.map((name) => el('tr', {}, el('td', { class: 'metric-name', text: name }),
    SUMMARIES.map((s) => el('td', { class: 'num', text: formatValue(metrics[name]?.[s]) }))));
  return el('table', { class: 'grid' }, el('thead', {}, head), el('tbody', {}, rows));
}

/**
 * Summaries of the run's charted series (charts model: metric -> entries).
 * Exact though the series are thinned: thinning keeps each bucket's first,
 * last, lowest and highest point, and `total` counts the points on disk.
 */
export function summariesFromCharts(model, runId) {
  const out = {};
  for (const [name, entries] of model) {
    const e = entries.find((entry) => entry.run === runId);
    if (!e || !e.x.length) continue;
    let min = null;
    let max = null;
    for (const y of e.y) {
      if (y === null || y === undefined) continue;
      if (min === null || y < min) min = y;
      if (max === null || y > max) max = y;
    }
    const lastX = e.x[e.x.length - 1];
    const last = e.y[e.y.length - 1] ?? e.marks.findLast((m) => m.x === lastX)?.value ?? null;
    out[name] = { last, min, max, count: e.total, last_step: e.lastStep };
  }
  return out;
}

function hasValue(value) {
  if (value === null || value === undefined) return false;
  if (Array.isArray(value)) return value.length > 0;
  return typeof value !== 'object' || Object.keys(value).length > 0;
}

/** The files of the run folder with download links, and the checkpoints. */
export function filesSection(runId, files, checkpoints) {
  const list = files ?? [];
  const body = list.length
    ? el('table', { class: 'grid files' },
      el('thead', {}, el('tr', {}, el('th', { text: 'file' }), el('th', { class: 'num', text: 'size' }), el('th', { text: 'modified' }))),
      el('tbody', {}, list.map((f) => el('tr', {},
        el('td', {}, link(fileHref(runId, f.path), f.path, { download: '' })),
        el('td', { class: 'num', text: formatBytes(f.size) }),
        el('td', { class: 'nowrap', text: formatDateTime(f.mtime) })))))
    : el('p', { class: 'empty', text: 'No files.' });
  const saved = checkpoints && Object.values(checkpoints).some(hasValue)
    ? el('details', { class: 'checkpoints' }, el('summary', { text: 'Checkpoints' }), tree(checkpoints, { openDepth: 1 }))
    : null;
  return section(`Files (${formatCount(list.length)})`, saved, body);
}

/** Git facts and the uncommitted diff. */
export function gitSection(git, diff, truncated) {
  if (!git || !Object.keys(git).length) return section('Git', el('p', { class: 'empty', text: 'Not run inside a git repository.' }));
  if (git.available === false) {
    const reason = git.reason === 'not a git repository' ? 'Not run inside a git repository.' : `No git facts: ${git.reason || 'not recorded'}.`;
    return section('Git', el('p', { class: 'empty', text: reason }));
  }
  const facts = factsTable([
    ['commit', git.commit ? el('code', { text: git.commit, title: shortCommit(git.commit) }) : null],
    ['branch', git.branch], ['remote', git.remote],
    ['dirty', git.dirty === undefined ? null : git.dirty ? 'yes: uncommitted changes' : 'no'],
  ]);
  const diffNode = diff
    ? el('details', { class: 'diff' }, el('summary', { text: `Uncommitted diff${truncated ? ' (first 1 MB)' : ''}` }),
      el('pre', { class: 'code', text: diff }))
    : null;
  return section('Git', facts, diffNode);
}

/** The environment: Python, platform and the rest as a tree; packages folded. */
export function environmentSection(environment) {
  const env = { ...(environment ?? {}) };
  const packages = env.packages;
  delete env.packages;
  const parts = [Object.keys(env).length ? tree(env, { openDepth: 1 }) : el('p', { class: 'empty', text: 'Not recorded.' })];
  if (packages && typeof packages === 'object') {
    const entries = Array.isArray(packages) ? packages.map((p, i) => [String(i), p]) : Object.entries(packages);
    parts.push(el('details', { class: 'packages' },
      el('summary', { text: `Packages (${formatCount(entries.length)})` }),
      el('table', { class: 'grid' }, el('tbody', {}, entries.map(([name, version]) => el('tr', {},
        el('td', { text: name }), el('td', { text: formatValue(version) })))))));
  }
  return section('Environment', ...parts);
}

/** The journal entries that mention the run, linked. */
export function journalSection(entries) {
  const list = entries ?? [];
  const body = list.length
    ? el('ul', { class: 'journal-links' }, list.map((e) => el('li', {},
      link(`/journal#${encodeURIComponent(e.id)}`, e.title || e.id), ' ',
      el('span', { class: 'muted', text: formatDateTime(e.created) }))))
    : el('p', { class: 'empty', text: 'No journal entry mentions this run.' });
  return section('Journal', body);
}
