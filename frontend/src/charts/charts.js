// The charts of a list of runs: one panel per metric, grouped under the
// prefix of the metric name, kept live while runs are running.
//
// Live updates fetch only new points: `after=RUN:STEP` with, per run, the
// lowest last step among its series (so no series misses a point), and the
// points a series already holds are dropped on arrival (by step on a step
// axis, else by x past its last x, as times grow with the steps).
import { getJSON, getRunsInfo, isAbort } from '../api.js';
import { clearError, showError } from '../banner.js';
import { debounce, el } from '../dom.js';
import { createControls, readSettings } from './controls.js';
import { colorAt } from './palette.js';
import { Panel } from './panel.js';

const LIVE_MS = 3000;
const GAP = 12;
const MIN_PANEL = 400;
const PREFIX_ORDER = ['train', 'val', 'test'];

function prefixOf(metric) {
  const at = metric.indexOf('/');
  return at > 0 ? metric.slice(0, at) : 'other';
}

function prefixRank(prefix) {
  const known = PREFIX_ORDER.indexOf(prefix);
  if (known >= 0) return [0, known, prefix];
  if (prefix === 'sys') return [3, 0, prefix];
  return prefix === 'other' ? [2, 0, prefix] : [1, 0, prefix];
}

function comparePrefixes(a, b) {
  const [ra, rb] = [prefixRank(a), prefixRank(b)];
  return ra[0] - rb[0] || ra[1] - rb[1] || ra[2].localeCompare(rb[2]);
}

/** Legend labels: the run's name, with its id's tail when names repeat. */
function labelsOf(runs) {
  const counts = new Map();
  for (const r of runs) counts.set(r.name ?? r.id, (counts.get(r.name ?? r.id) ?? 0) + 1);
  return runs.map((r) => {
    const name = r.name ?? r.id;
    return counts.get(name) > 1 ? `${name} (${r.id.slice(-4)})` : name;
  });
}

/**
 * Creates the chart section. `setRuns(runs, note, {load})` chooses the runs
 * ({id, name, status}, colour by position) and a line to show above; they
 * are fetched when they changed (unless load is false). `beforeFetch`, if
 * given, is awaited before a control asks for new data (so the page may
 * choose the runs again, with load false). `onLoad(model)`, if given, is
 * called after each full load with metric -> entries ({run, x, y, marks,
 * total, lastStep} for runs), or with null when the load failed.
 */
export function createCharts(ctx, { groups = true, beforeFetch = null, onLoad = null } = {}) {
  const charts = new ChartSet(ctx, groups);
  charts.beforeFetch = beforeFetch;
  charts.onLoad = onLoad;
  return { element: charts.element, setRuns: (runs, note, opts) => charts.setRuns(runs, note, opts),
    setGroupKeys: (keys) => charts.controls.setGroupKeys(keys) };
}

class ChartSet {
  constructor(ctx, groups) {
    this.ctx = ctx;
    this.runs = [];
    this.settings = readSettings();
    this.model = new Map();
    this.panels = new Map();
    this.fetched = null;
    this.running = new Set();
    this.busy = false;
    this.ticks = 0;
    this.generation = 0;
    this.controls = createControls({ groups, onChange: (what) => this.onControl(what) });
    this.note = el('p', { class: 'charts-note' });
    this.host = el('div', { id: 'charts', dataset: { chartsReady: '0' } });
    this.element = el('section', { class: 'charts-section' }, this.controls.element, this.note, this.host);
    const onResize = debounce(() => this.resize(), 150);
    window.addEventListener('resize', onResize);
    ctx.onLeave(() => {
      window.removeEventListener('resize', onResize);
      this.abort?.abort();
      this.clearPanels();
    });
    ctx.every(LIVE_MS, () => this.tick());
  }

  setRuns(runs, note = '', { load = true } = {}) {
    this.note.textContent = note;
    const same = runs.length === this.runs.length && runs.every((r, i) => r.id === this.runs[i].id && r.name === this.runs[i].name);
    this.runs = runs;
    this.running = new Set(runs.filter((r) => r.status === 'running').map((r) => r.id));
    if (load && (!same || !this.fetched)) this.load();
  }

  async onControl(what) {
    clearError();
    this.settings = readSettings();
    if (what !== 'fetch') {
      this.renderPanels();
      return;
    }
    try {
      if (this.beforeFetch) await this.beforeFetch();
    } catch (err) {
      if (!isAbort(err)) showError(err);
    }
    this.load();
  }

  /**
   * Columns and panel width: as many columns of at least MIN_PANEL pixels as
   * fit, but no more than the largest prefix group has panels, so a page of
   * few metrics gets wide panels instead of empty cells.
   */
  panelWidth() {
    const width = this.host.clientWidth || document.documentElement.clientWidth - 48;
    const fit = Math.max(1, Math.floor((width + GAP) / (MIN_PANEL + GAP)));
    const counts = new Map();
    for (const metric of this.model.keys()) counts.set(prefixOf(metric), (counts.get(prefixOf(metric)) ?? 0) + 1);
    const widest = Math.max(2, ...counts.values());
    const columns = Math.min(fit, widest);
    return { columns, width: Math.floor((width - GAP * (columns - 1)) / columns) - 2 };
  }

  /** Fetches every series (or group) of the runs and draws all panels. */
  async load() {
    this.generation += 1;
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    this.host.dataset.chartsReady = '0';
    if (!this.runs.length) {
      this.model = new Map();
      this.fetched = { settings: this.settings };
      this.renderPanels();
      return;
    }
    const { width } = this.panelWidth();
    const s = this.settings;
    const params = { runs: this.runs.map((r) => r.id), x: s.x, width };
    try {
      if (s.group) {
        const data = await getJSON('/api/groups', { ...params, by: s.group, band: s.band }, { signal: abort.signal });
        this.model = groupModel(data);
      } else {
        this.model = seriesModel(await getJSON('/api/series', params, { signal: abort.signal }), this.runs);
      }
      this.fetched = { settings: s, width };
      this.renderPanels();
      this.onLoad?.(this.model);
    } catch (err) {
      if (isAbort(err) || !this.ctx.alive()) return;
      showError(err);
      this.host.dataset.chartsReady = '1';
      this.onLoad?.(null);
    }
  }

  clearPanels() {
    for (const panel of this.panels.values()) panel.destroy();
    this.panels.clear();
  }

  /** Lays out the panels, grouped by prefix, and draws them. */
  renderPanels() {
    this.clearPanels();
    const { columns, width } = this.panelWidth();
    const byPrefix = new Map();
    for (const metric of [...this.model.keys()].sort()) {
      const prefix = prefixOf(metric);
      if (!byPrefix.has(prefix)) byPrefix.set(prefix, []);
      byPrefix.get(prefix).push(metric);
    }
    const sections = [...byPrefix.keys()].sort(comparePrefixes).map((prefix) => {
      const grid = el('div', { class: 'panel-grid' });
      grid.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
      for (const metric of byPrefix.get(prefix)) {
        const panel = new Panel(metric);
        this.panels.set(metric, panel);
        grid.append(panel.element);
      }
      return el('div', { class: 'chart-group', dataset: { prefix } }, el('h3', { text: prefix === 'other' ? 'other' : `${prefix}/` }), grid);
    });
    this.host.replaceChildren(...sections);
    if (!sections.length) this.host.append(el('p', { class: 'empty', text: this.emptyText() }));
    for (const [metric, panel] of this.panels) panel.draw(this.model.get(metric), this.settings, width);
    this.host.dataset.chartsReady = '1';
  }

  emptyText() {
    if (!this.runs.length) return 'No runs to chart. Select runs in the table, or change the filter.';
    return this.settings.group ? 'No groups: do the runs share metrics and a range of x?' : 'These runs have logged no metrics yet.';
  }

  resize() {
    if (!this.fetched) return;
    const { columns, width } = this.panelWidth();
    if (this.fetched.width && width > this.fetched.width * 1.5) {
      this.load();
      return;
    }
    for (const grid of this.host.querySelectorAll('.panel-grid')) {
      grid.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
    }
    for (const panel of this.panels.values()) panel.resize(width);
  }

  /**
   * Every few seconds: statuses, then new points of running runs. With no
   * run running, statuses are checked only every tenth tick (a run that is
   * resumed later), to keep an idle page quiet.
   */
  async tick() {
    if (document.hidden || this.busy || !this.runs.length || !this.fetched) return;
    this.ticks += 1;
    if (!this.running.size && this.ticks % 10 !== 0) return;
    this.busy = true;
    try {
      await this.refreshLive();
    } catch (err) {
      if (!isAbort(err) && this.ctx.alive()) showError(err);
    } finally {
      this.busy = false;
    }
  }

  async refreshLive() {
    const ids = this.runs.map((r) => r.id);
    const info = await getRunsInfo(ids, { signal: this.ctx.signal });
    const now = new Set(info.filter((r) => r.status === 'running').map((r) => r.id));
    // Runs that just ended get one more fetch, for their last points; the
    // runs may have been chosen again while the statuses were on their way.
    const live = ids.filter((id) => now.has(id) || this.running.has(id));
    this.running = now;
    for (const r of info) {
      const mine = this.runs.find((x) => x.id === r.id);
      if (mine) mine.status = r.status;
    }
    if (!live.length) return;
    // Group means are recomputed by the server over every point, so they
    // are fetched whole, and less often than new points.
    if (this.settings.group) {
      if (this.ticks % 3 === 0 || !now.size) await this.load();
      return;
    }
    await this.appendNew(live);
  }

  async appendNew(liveIds) {
    const s = this.settings;
    const generation = this.generation;
    const after = liveIds.map((id) => [id, this.lowestLastStep(id)]).filter(([, step]) => step !== null).map(([id, step]) => `${id}:${step}`);
    const data = await getJSON('/api/series', { runs: liveIds, x: s.x, width: this.fetched.width, after }, { signal: this.ctx.signal });
    // A full load started meanwhile brings these points itself.
    if (generation !== this.generation || this.host.dataset.chartsReady !== '1') return;
    const touched = new Set();
    let newMetric = false;
    const chosen = new Set(this.runs.map((r) => r.id));
    for (const series of data.series) {
      if (!chosen.has(series.run)) continue;
      if (!this.model.has(series.metric)) newMetric = true;
      const added = mergeSeries(this.model, series, this.runs, s.x);
      if (added) touched.add(series.metric);
    }
    if (newMetric) this.renderPanels();
    else for (const metric of touched) this.updatePanel(metric);
  }

  updatePanel(metric) {
    const entries = this.model.get(metric);
    const { width } = this.panelWidth();
    // Appended points are not thinned: past a few times the pixel width,
    // fetch everything again so the server thins it.
    if (entries.some((e) => e.x.length > 4 * (this.fetched.width ?? width))) {
      this.load();
      return;
    }
    this.panels.get(metric)?.update(entries, this.settings, width);
  }

  lowestLastStep(runId) {
    let lowest = null;
    for (const entries of this.model.values()) {
      for (const e of entries) {
        if (e.run === runId && e.lastStep !== null && (lowest === null || e.lastStep < lowest)) lowest = e.lastStep;
      }
    }
    return lowest;
  }
}

function runEntry(series, runs, labels) {
  const found = runs.findIndex((r) => r.id === series.run);
  // A run the list does not name (never expected) gets a colour past it.
  const index = found >= 0 ? found : runs.length;
  return {
    kind: 'run', run: series.run, index, label: labels[index] ?? series.run,
    color: colorAt(index), faint: colorAt(index, 0.22),
    x: series.x, y: series.y, marks: series.marks ?? [],
    shown: series.shown ?? series.x.length, total: series.total ?? series.x.length,
    lastStep: series.last_step ?? null,
  };
}

/** metric -> run entries, in the order of the chosen runs. */
function seriesModel(data, runs) {
  const labels = labelsOf(runs);
  const model = new Map();
  for (const series of data.series) {
    if (!model.has(series.metric)) model.set(series.metric, []);
    model.get(series.metric).push(runEntry(series, runs, labels));
  }
  for (const entries of model.values()) entries.sort((a, b) => a.index - b.index);
  return model;
}

/** metric -> group entries (mean with a band), colour by group number. */
function groupModel(data) {
  const model = new Map();
  for (const [metric, list] of Object.entries(data.metrics ?? {})) {
    model.set(metric, list.map((g, i) => ({
      kind: 'group', label: `${g.label} (${g.runs?.length ?? 0} ${g.runs?.length === 1 ? 'run' : 'runs'})`, color: colorAt(i), fill: colorAt(i, 0.15),
      x: g.x, mean: g.mean, lo: g.lo, hi: g.hi, marks: g.marks ?? [], shown: g.x.length, total: g.x.length, lastStep: null,
    })));
  }
  return model;
}

/** Appends the new points of one live series; returns how many were added. */
function mergeSeries(model, series, runs, xMode) {
  if (!model.has(series.metric)) model.set(series.metric, []);
  const entries = model.get(series.metric);
  const entry = entries.find((e) => e.run === series.run);
  if (!entry) {
    entries.push(runEntry(series, runs, labelsOf(runs)));
    entries.sort((a, b) => a.index - b.index);
    return series.x.length;
  }
  const last = xMode === 'step' ? entry.lastStep : entry.x[entry.x.length - 1];
  const isNew = (x) => last === null || last === undefined || x > last;
  let added = 0;
  for (let i = 0; i < series.x.length; i++) {
    if (!isNew(series.x[i])) continue;
    entry.x.push(series.x[i]);
    entry.y.push(series.y[i]);
    added += 1;
  }
  entry.marks.push(...(series.marks ?? []).filter((m) => isNew(m.x)));
  entry.shown += added;
  entry.total = Math.max(entry.total + added, series.total ?? 0);
  if (series.last_step !== null && series.last_step !== undefined) {
    entry.lastStep = Math.max(entry.lastStep ?? series.last_step, series.last_step);
  }
  return added;
}
