// The home page: the filter, the runs table (paged on the server, true
// total shown), the selection and, below, the charts of the chosen runs.
// Every piece of state lives in the URL query.
import { ApiError, getJSON, getRunsInfo, isAbort } from '../api.js';
import { clearError, showError } from '../banner.js';
import { createCharts } from '../charts/charts.js';
import { debounce, el } from '../dom.js';
import { formatCount } from '../format.js';
import { navigate } from '../nav.js';
import { listParam, param, setParams } from '../url.js';
import { createColumnChooser } from './column-chooser.js';
import { createRunsTable, formatSort, nextSort, parseSort } from './runs-table.js';

const PAGE_SIZE = 100;

function plural(count, noun) {
  return `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;
}
// The columns parameter for "no optional columns" (absent means the defaults).
const NO_COLUMNS = '-';
const POLL_MS = 3000;
const CHART_RUNS = 20;
const GROUP_RUNS = 100;
const SELECTED_CHART_RUNS = 100;

/** Renders the home page into root. */
export function renderHome(root, ctx) {
  new HomePage(root, ctx).start();
}

class HomePage {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.data = null;
    this.dataText = '';
    this.columnsData = null;
    this.inFlight = null;
    this.chartSelection = null;
    this.table = createRunsTable({
      onSort: (column, additive) => this.sortBy(column, additive),
      onSelect: (id, on) => this.select([id], on),
      onSelectPage: (ids, on) => this.select(ids, on),
    });
    this.chooser = createColumnChooser({
      load: () => this.loadColumns(),
      current: () => listParam('columns').length
        ? listParam('columns').filter((c) => c !== NO_COLUMNS) : (this.data?.columns ?? []),
      onChange: (columns) => this.setColumns(columns),
    });
    // Grouping charts more runs than plain curves, a change of group-by
    // chooses the runs again before the charts fetch.
    this.charts = createCharts(ctx, { beforeFetch: () => this.updateCharts({ load: false }) });
  }

  start() {
    this.root.append(this.toolbar(), this.pager(), el('div', { class: 'table-wrap' }, this.table.element),
      el('h2', { class: 'charts-title', text: 'Charts' }), this.charts.element);
    this.updateSelectionUi();
    // Charts of selected runs need no table: fetch them alongside it.
    if (listParam('selected').length) this.updateCharts({}).catch(showError);
    this.loadTable().finally(() => {
      document.body.dataset.ready = '1';
      // The group-by suggestions wait for the table, which matters more.
      this.loadColumns().then((d) => this.charts.setGroupKeys(d.config ?? [])).catch(() => {});
    });
    this.ctx.every(POLL_MS, () => { if (!document.hidden) this.loadTable({ poll: true }); });
  }

  toolbar() {
    this.filter = el('input', { id: 'filter', type: 'text', value: param('where', ''), autocomplete: 'off',
      placeholder: "filter: optim.lr < 0.1 and status = 'finished' and tag:baseline", 'aria-label': 'Filter' });
    this.filterError = el('div', { id: 'filter-error', class: 'filter-error', hidden: true });
    const apply = debounce(() => this.applyFilter(false), 600);
    this.filter.addEventListener('input', apply);
    this.filter.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      apply.cancel();
      this.applyFilter(true);
    });
    this.selectionInfo = el('span', { class: 'selection-info' });
    this.compare = el('button', { id: 'compare', type: 'button', text: 'Compare', onclick: () => this.openCompare() });
    this.clear = el('button', { id: 'clear-selection', type: 'button', text: 'Clear selection', onclick: () => this.select(listParam('selected'), false) });
    return el('div', { class: 'toolbar' },
      el('div', { class: 'filter-wrap' }, this.filter, this.filterError),
      this.chooser.element, this.selectionInfo, this.compare, this.clear);
  }

  pager() {
    this.prev = el('button', { id: 'page-prev', type: 'button', text: '‹ Prev', onclick: () => this.goPage(-1) });
    this.next = el('button', { id: 'page-next', type: 'button', text: 'Next ›', onclick: () => this.goPage(1) });
    this.total = el('span', { id: 'total' });
    this.runningInfo = el('span', { class: 'running-info' });
    return el('div', { class: 'pager' }, this.prev, this.total, this.next, this.runningInfo);
  }

  page() {
    const page = Number.parseInt(param('page', '1'), 10);
    return Number.isFinite(page) && page > 0 ? page : 1;
  }

  query(extra = {}) {
    return { where: param('where', ''), sort: param('sort', ''), offset: (this.page() - 1) * PAGE_SIZE,
      limit: PAGE_SIZE, columns: param('columns', ''), ...extra };
  }

  /** Fetches the page of runs; a poll re-renders only when the answer changed. */
  async loadTable({ poll = false } = {}) {
    if (poll && this.inFlight) return;
    this.inFlight?.abort();
    const abort = (this.inFlight = new AbortController());
    try {
      const data = await getJSON('/api/runs', this.query(), { signal: abort.signal });
      // Past the last page (an old link, runs removed): go to the last one.
      const last = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
      if (this.page() > last) {
        setParams({ page: last === 1 ? null : String(last) });
        await this.loadTable();
        return;
      }
      const text = JSON.stringify(data);
      if (poll && text === this.dataText) return;
      this.data = data;
      this.dataText = text;
      this.showFilterError(null);
      this.renderTable();
      await this.updateCharts({ poll });
    } catch (err) {
      if (isAbort(err) || !this.ctx.alive()) return;
      if (err instanceof ApiError && err.type === 'FilterSyntaxError') this.showFilterError(err);
      else if (!poll || !(err instanceof ApiError && err.status === 0)) showError(err);
    } finally {
      if (this.inFlight === abort) this.inFlight = null;
    }
  }

  renderTable() {
    const data = this.data;
    const selected = new Set(listParam('selected'));
    this.table.render(data, parseSort(param('sort')), selected);
    const from = data.total ? data.offset + 1 : 0;
    const to = data.offset + data.rows.length;
    this.total.dataset.total = String(data.total);
    this.total.textContent = data.total ? `${formatCount(from)}–${formatCount(to)} of ${formatCount(data.total)} runs` : '0 runs';
    this.prev.disabled = data.offset <= 0;
    this.next.disabled = to >= data.total;
    this.runningInfo.textContent = data.running ? `${formatCount(data.running)} running` : '';
    this.runningInfo.classList.toggle('live', Boolean(data.running));
  }

  showFilterError(err) {
    const node = this.filterError;
    node.hidden = !err;
    node.replaceChildren();
    this.filter.classList.toggle('invalid', Boolean(err));
    this.table.element.classList.toggle('stale', Boolean(err));
    if (!err) return;
    // The position counts in the filter as sent (trimmed), so show that.
    const text = param('where', '');
    if (err.position !== null && err.position !== undefined) {
      const caret = `${' '.repeat(Math.max(0, Math.min(err.position, text.length)))}^`;
      node.append(el('pre', { class: 'caret', text: `${text}\n${caret}` }));
    }
    node.append(el('div', { class: 'message', text: err.message }));
    if (this.data) node.append(el('div', { class: 'muted', text: 'The table below still shows the last filter that worked.' }));
  }

  applyFilter(push) {
    const where = this.filter.value.trim();
    if (where === param('where', '')) {
      if (push) this.loadTable();
      return;
    }
    setParams({ where: where || null, page: null }, { push });
    this.columnsData = null;
    clearError();
    this.loadTable();
  }

  sortBy(column, additive) {
    clearError();
    const keys = nextSort(parseSort(param('sort')), column, additive);
    const text = formatSort(keys);
    setParams({ sort: text === '-started' ? null : text, page: null }, { push: true });
    this.loadTable();
  }

  goPage(delta) {
    clearError();
    const page = Math.max(1, this.page() + delta);
    setParams({ page: page === 1 ? null : String(page) }, { push: true });
    this.loadTable();
  }

  setColumns(columns) {
    clearError();
    // null: the server's default columns; an empty choice is kept as "-".
    setParams({ columns: columns === null ? null : columns.join(',') || NO_COLUMNS });
    this.loadTable();
  }

  async loadColumns() {
    if (!this.columnsData) this.columnsData = await getJSON('/api/columns', { where: param('where', '') }, { signal: this.ctx.signal });
    return this.columnsData;
  }

  select(ids, on) {
    clearError();
    const selected = listParam('selected').filter((id) => !ids.includes(id));
    if (on) selected.push(...ids);
    setParams({ selected });
    if (this.data) this.renderTable();
    this.updateSelectionUi();
    this.updateCharts({}).catch(showError);
  }

  updateSelectionUi() {
    const count = listParam('selected').length;
    this.selectionInfo.textContent = count ? `${formatCount(count)} selected` : '';
    this.compare.disabled = count < 2;
    this.clear.disabled = count === 0;
  }

  openCompare() {
    const ids = listParam('selected');
    if (ids.length >= 2) navigate(`/compare?runs=${ids.map(encodeURIComponent).join(',')}`);
  }

  /**
   * Chooses the chart runs: the selection, else the first matching runs.
   * A poll changes them only when the table's first page holds them.
   */
  async updateCharts({ poll = false, load = true }) {
    const selected = listParam('selected');
    const fromTable = this.page() === 1 && (this.data?.rows.length ?? 0) >= Math.min(this.chartLimit(), this.data?.total ?? 0);
    if (poll && (selected.length || !fromTable)) return;
    const key = selected.join(',');
    if (selected.length && load && key === this.chartSelection) return;
    this.chartSelection = selected.length ? key : null;
    // Quick clicks on checkboxes overlap: only the latest choice may land.
    const seq = (this.chartSeq = (this.chartSeq ?? 0) + 1);
    const [runs, note] = selected.length ? await this.selectedRuns(selected) : await this.matchingRuns(fromTable);
    if (seq === this.chartSeq) this.charts.setRuns(runs, note, { load });
  }

  chartLimit() {
    return param('group') ? GROUP_RUNS : CHART_RUNS;
  }

  async selectedRuns(wanted) {
    const runs = await getRunsInfo(wanted.slice(0, SELECTED_CHART_RUNS), { signal: this.ctx.signal });
    // A shared or old URL may select runs since removed: they leave the selection.
    const found = new Set(runs.map((r) => r.id));
    const gone = wanted.slice(0, SELECTED_CHART_RUNS).filter((id) => !found.has(id));
    const selected = wanted.filter((id) => !gone.includes(id));
    if (gone.length) {
      setParams({ selected });
      this.chartSelection = selected.join(',');
      if (this.data) this.renderTable();
      this.updateSelectionUi();
    }
    const left = gone.length
      ? ` ${formatCount(gone.length)} selected ${gone.length === 1 ? 'run is' : 'runs are'} no longer in the store (${gone.join(', ')}) and left the selection.`
      : '';
    if (!selected.length) return this.matchingRuns(false).then(([rows, note]) => [rows, `${note}${left}`]);
    const more = selected.length > SELECTED_CHART_RUNS ? ` (the first ${SELECTED_CHART_RUNS} are charted)` : '';
    return [runs, `Charts of the ${plural(selected.length, 'selected run')}${more}.${left}`];
  }

  async matchingRuns(fromTable) {
    const limit = this.chartLimit();
    const answer = fromTable
      ? this.data
      : await getJSON('/api/runs', this.query({ offset: 0, limit }), { signal: this.ctx.signal });
    const { rows, total } = answer;
    let note = `Showing all ${plural(total, 'matching run')}; select runs to chart fewer.`;
    if (total > limit) note = `Showing the first ${limit} of ${formatCount(total)} matching runs; select runs to chart others.`;
    else if (total === 0) note = 'No runs match, so there is nothing to chart.';
    else if (total === 1) note = 'Showing the one matching run.';
    return [rows.slice(0, limit), note];
  }
}
