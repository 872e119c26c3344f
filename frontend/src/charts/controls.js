// The chart controls: x axis, log y, smoothing, group-by and band. Their
// values live in the URL query (x, logy, smooth, group, band).
import { debounce, el } from '../dom.js';
import { param, setParams } from '../url.js';

const X_MODES = [['step', 'step'], ['time', 'wall time'], ['relative', 'time since start']];
const BANDS = [['minmax', 'min–max'], ['std', '± std']];

/** The chart settings the URL holds now (with defaults). */
export function readSettings() {
  const x = param('x', 'step');
  const smooth = Number.parseFloat(param('smooth', '0'));
  const band = param('band', 'minmax');
  return {
    x: ['step', 'time', 'relative'].includes(x) ? x : 'step',
    logy: param('logy') === '1',
    smooth: Number.isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : 0,
    group: param('group', ''),
    band: band === 'std' ? 'std' : 'minmax',
  };
}

function select(id, options, value) {
  return el('select', { id }, options.map(([v, label]) => el('option', { value: v, text: label, selected: v === value })));
}

/**
 * Builds the control bar. `onChange(what)` is called with 'fetch' when the
 * data must be fetched again (x, group, band) and 'draw' when a redraw of
 * the data in hand is enough (log y, smoothing). `groups: false` leaves out
 * group-by and band (the run page has one run).
 */
export function createControls({ onChange, groups = true }) {
  const s = readSettings();
  const xAxis = select('x-axis', X_MODES, s.x);
  const logY = el('input', { id: 'log-y', type: 'checkbox', checked: s.logy });
  const smoothing = el('input', { id: 'smooth', type: 'range', min: '0', max: '0.99', step: '0.01', value: String(s.smooth) });
  const smoothText = el('output', { class: 'smooth-value', text: s.smooth.toFixed(2) });
  const groupBy = el('input', { id: 'group-by', type: 'text', value: s.group, list: 'group-keys',
    placeholder: 'config key or ~seed', autocomplete: 'off' });
  const keys = el('datalist', { id: 'group-keys' });
  const band = select('band', BANDS, s.band);
  band.disabled = !s.group;

  const redraw = debounce(() => onChange('draw'), 120);
  xAxis.addEventListener('change', () => { setParams({ x: xAxis.value === 'step' ? null : xAxis.value }); onChange('fetch'); });
  logY.addEventListener('change', () => { setParams({ logy: logY.checked ? '1' : null }); onChange('draw'); });
  smoothing.addEventListener('input', () => {
    smoothText.textContent = Number(smoothing.value).toFixed(2);
    setParams({ smooth: Number(smoothing.value) > 0 ? smoothing.value : null });
    redraw();
  });
  groupBy.addEventListener('change', () => {
    const value = groupBy.value.trim();
    band.disabled = !value;
    setParams({ group: value || null });
    onChange('fetch');
  });
  band.addEventListener('change', () => { setParams({ band: band.value === 'minmax' ? null : band.value }); onChange('fetch'); });

  const label = (text, ...nodes) => el('label', { class: 'control' }, el('span', { text }), ...nodes);
  const element = el('div', { class: 'chart-controls' },
    label('x axis', xAxis), label('log y', logY), label('smoothing', smoothing, smoothText),
    groups ? label('group by', groupBy, keys) : null, groups ? label('band', band) : null);

  /** Offers these config keys (and ~seed) in the group-by input. */
  function setGroupKeys(configKeys) {
    keys.replaceChildren(...['~seed', ...configKeys].map((k) => el('option', { value: k })));
  }
  return { element, setGroupKeys };
}
