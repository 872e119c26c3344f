// The runs table of the home page: fixed columns (name, status, start,
// duration, tags), the chosen config and metric columns, then git. Sorting
// happens on the server; a header click asks for it.
import { chip, el, link, runHref } from '../dom.js';
import { formatDateTime, formatDuration, formatValue, isNumeric, shortCommit, statusClass } from '../format.js';

const LEAD = [
  ['name', 'name'], ['status', 'status'], ['started', 'started'], ['duration', 'duration'], ['tags', 'tags'],
];
const TAIL = [['branch', 'branch'], ['commit', 'commit']];

/** Sort keys from the URL form (`-started,name`) to [{column, desc}]. */
export function parseSort(text) {
  return (text || '-started').split(',').filter(Boolean).map((key) => (
    key.startsWith('-') ? { column: key.slice(1), desc: true } : { column: key, desc: false }));
}

/** Sort keys back to the URL form. */
export function formatSort(keys) {
  return keys.map((k) => (k.desc ? `-${k.column}` : k.column)).join(',');
}

/**
 * The sort after a header click: a plain click sorts by that column alone
 * (again: the other way); shift-click adds it as a further key (again: the
 * other way, a third time: removed).
 */
export function nextSort(keys, column, additive) {
  const at = keys.findIndex((k) => k.column === column);
  if (!additive) {
    const flip = at === 0 && keys.length === 1 ? !keys[0].desc : false;
    return [{ column, desc: flip }];
  }
  if (at < 0) return [...keys, { column, desc: false }];
  if (!keys[at].desc) return keys.map((k, i) => (i === at ? { column, desc: true } : k));
  const rest = keys.filter((_, i) => i !== at);
  return rest.length ? rest : [{ column, desc: false }];
}

/** Header text of a column: [main, small]. */
function headerText(column) {
  if (column.startsWith('config.')) return [column.slice(7), 'config'];
  if (column.startsWith('metric.')) {
    const rest = column.slice(7);
    const dot = rest.lastIndexOf('.');
    return dot > 0 ? [rest.slice(0, dot), rest.slice(dot + 1)] : [rest, 'metric'];
  }
  return [column, ''];
}

/**
 * Creates the table. Callbacks: onSort(column, additive),
 * onSelect(id, checked), onSelectPage(ids, checked).
 */
export function createRunsTable({ onSort, onSelect, onSelectPage }) {
  const table = el('table', { id: 'runs-table', class: 'runs' });

  function header(columns, sortKeys, rows, selected) {
    const all = el('input', { type: 'checkbox', class: 'select-page', title: 'Select the runs of this page' });
    all.checked = rows.length > 0 && rows.every((r) => selected.has(r.id));
    all.indeterminate = !all.checked && rows.some((r) => selected.has(r.id));
    all.addEventListener('change', () => onSelectPage(rows.map((r) => r.id), all.checked));
    const cells = [...LEAD, ...columns.map((c) => [c, c]), ...TAIL].map(([column]) => headerCell(column, sortKeys));
    return el('thead', {}, el('tr', {}, el('th', { class: 'select' }, all), ...cells));
  }

  function headerCell(column, sortKeys) {
    const [main, small] = headerText(column);
    const at = sortKeys.findIndex((k) => k.column === column);
    const arrow = at < 0 ? '' : `${sortKeys[at].desc ? '▼' : '▲'}${sortKeys.length > 1 ? at + 1 : ''}`;
    const th = el('th', { dataset: { column }, title: `${column}\nClick to sort; shift-click to add a sort key`,
      class: at < 0 ? 'sortable' : 'sortable sorted' },
      el('span', { class: 'th-main' }, el('span', { class: 'th-text', text: main }),
        arrow ? el('span', { class: 'sort-arrow', text: arrow }) : null),
      small ? el('span', { class: 'th-small', text: small }) : null);
    th.addEventListener('click', (event) => onSort(column, event.shiftKey));
    return th;
  }

  function row(run, columns, selected) {
    const box = el('input', { type: 'checkbox', class: 'select-run', checked: selected.has(run.id),
      title: 'Select for the charts and compare' });
    box.addEventListener('change', () => onSelect(run.id, box.checked));
    const values = run.values ?? {};
    return el('tr', { dataset: { runId: run.id }, class: selected.has(run.id) ? 'selected' : '' },
      el('td', { class: 'select' }, box),
      el('td', { class: 'name' }, link(runHref(run.id), run.name || run.id, { title: run.id })),
      el('td', {}, statusBadge(run.status)),
      el('td', { class: 'nowrap', title: formatDateTime(run.started, { seconds: true }), text: formatDateTime(run.started) }),
      el('td', { class: 'num', text: formatDuration(run.duration) }),
      el('td', { class: 'tags' }, (run.tags ?? []).map((t) => chip(t))),
      columns.map((c) => (TIME_FIELDS.has(c) ? timeCell(run[c] ?? values[c])
        : valueCell(c in values ? values[c] : run[c.replace(/^[a-z]+\./, '')]))),
      el('td', { class: 'nowrap', text: run.branch ?? '' }),
      el('td', { class: 'commit', title: run.commit ? `${run.commit}${run.dirty ? ' (uncommitted changes)' : ''}` : null,
        text: run.commit ? `${shortCommit(run.commit)}${run.dirty ? '*' : ''}` : '' }),
    );
  }

  /** Renders one page of rows: data is the /api/runs answer. */
  function render(data, sortKeys, selected) {
    const columns = data.columns ?? [];
    const body = el('tbody');
    body.append(...data.rows.map((r) => row(r, columns, selected)));
    if (!data.rows.length) {
      body.append(el('tr', {}, el('td', { class: 'empty', colspan: String(LEAD.length + TAIL.length + columns.length + 1),
        text: 'No runs match.' })));
    }
    table.replaceChildren(header(columns, sortKeys, data.rows, selected), body);
  }

  return { element: table, render };
}

// Run fields that are times: shown as dates, as the started column is.
const TIME_FIELDS = new Set(['started', 'ended']);

function timeCell(seconds) {
  return el('td', { class: 'nowrap', title: formatDateTime(seconds, { seconds: true }), text: formatDateTime(seconds) });
}

function valueCell(value) {
  const text = formatValue(value);
  return el('td', { class: isNumeric(value) ? 'num' : 'text', text, title: text.length > 24 ? text : null });
}

/** The coloured status word; a running run pulses. */
export function statusBadge(status) {
  return el('span', { class: `status ${statusClass(status)}` }, el('span', { class: 'dot' }), status ?? '');
}
