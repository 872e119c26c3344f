// The column chooser: config keys and metric summaries the matching runs
// can show (GET /api/columns), ticked on and off; the choice goes to the URL.
import { el } from '../dom.js';

/**
 * Creates the button (#columns-button) and its panel. `load()` answers the
 * /api/columns data; `current()` the columns shown now; `onChange(columns)`
 * gets the new list, or null for the server's default.
 */
export function createColumnChooser({ load, current, onChange }) {
  const panel = el('div', { id: 'columns-panel', class: 'popover', hidden: true });
  const button = el('button', { id: 'columns-button', type: 'button', text: 'Columns',
    'aria-expanded': 'false', onclick: () => toggle() });
  const element = el('div', { class: 'columns-chooser' }, button, panel);

  // A click outside the open panel closes it.
  function onOutside(event) {
    if (!element.contains(event.target)) toggle(false);
  }

  async function toggle(open = panel.hidden) {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    document.removeEventListener('mousedown', onOutside);
    if (!open) return;
    document.addEventListener('mousedown', onOutside);
    fill(await load());
  }

  function choose(column, on) {
    const columns = current().filter((c) => c !== column);
    if (on) columns.push(column);
    onChange(columns);
  }

  function box(column, label) {
    const input = el('input', { type: 'checkbox', checked: current().includes(column), dataset: { column } });
    input.addEventListener('change', () => choose(column, input.checked));
    return el('label', { class: 'choice', title: column }, input, el('span', { text: label }));
  }

  function fill(data) {
    const search = el('input', { type: 'search', class: 'columns-search', placeholder: 'find a column' });
    const summaries = data.summaries?.length ? data.summaries : ['last', 'min', 'max'];
    const configList = el('div', { class: 'choices' }, (data.config ?? []).map((k) => box(`config.${k}`, k)));
    const fieldList = el('div', { class: 'choices' }, (data.fields ?? []).map((f) => box(f, f)));
    const metricRows = (data.metrics ?? []).map((m) => el('div', { class: 'metric-choice', dataset: { name: m } },
      el('span', { class: 'metric-name', text: m, title: m }), summaries.map((s) => box(`metric.${m}.${s}`, s))));
    search.addEventListener('input', () => filterChoices(panel, search.value.trim().toLowerCase()));
    panel.replaceChildren(
      el('div', { class: 'popover-head' }, search,
        el('button', { type: 'button', text: 'Default', title: 'The columns the server picks', onclick: () => { onChange(null); toggle(false); } }),
        el('button', { type: 'button', text: 'Close', onclick: () => toggle(false) })),
      fieldList.childElementCount ? el('h4', { text: 'Run' }) : null, fieldList.childElementCount ? fieldList : null,
      el('h4', { text: 'Config' }), configList.childElementCount ? configList : el('p', { class: 'empty', text: 'No config keys.' }),
      el('h4', { text: 'Metrics' }), metricRows.length ? el('div', { class: 'choices metrics' }, metricRows) : el('p', { class: 'empty', text: 'No metrics.' }),
    );
    search.focus();
  }

  element.addEventListener('keydown', (event) => { if (event.key === 'Escape' && !panel.hidden) toggle(false); });
  return { element };
}

function filterChoices(panel, text) {
  for (const node of panel.querySelectorAll('.choices > .choice, .metric-choice')) {
    const name = node.dataset.name ?? node.title;
    node.hidden = Boolean(text) && !name.toLowerCase().includes(text);
  }
}
