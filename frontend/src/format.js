// How values read on the page: compact numbers, local times, h:mm:ss.

const NON_FINITE = { NaN: 'NaN', Infinity: '∞', '-Infinity': '−∞' };

/** True for numbers and the API's spelling of non-finite numbers. */
export function isNumeric(value) {
  return typeof value === 'number' || (typeof value === 'string' && value in NON_FINITE);
}

/** A number in at most about 5 significant digits: 1,234 · 0.01234 · 1.23e-7. */
export function formatNumber(value) {
  if (typeof value === 'string') return NON_FINITE[value] ?? value;
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (Number.isInteger(value) && abs < 1e15) {
    return abs < 1e6 ? value.toLocaleString('en-US') : exponential(value);
  }
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return exponential(value);
  return trimZeros(value.toPrecision(abs >= 1000 ? 7 : 4));
}

function exponential(value) {
  const [mantissa, exponent] = value.toExponential(3).split('e');
  return `${trimZeros(mantissa)}e${exponent.replace('+', '')}`;
}

function trimZeros(text) {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** A count in full with thousands separators: 5,000,000. */
export function formatCount(value) {
  return typeof value === 'number' ? value.toLocaleString('en-US') : '';
}

/** Any config or summary value as text: numbers compact, objects as JSON. */
export function formatValue(value) {
  if (value === null || value === undefined) return '';
  if (isNumeric(value)) return formatNumber(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

/** Epoch seconds as local `YYYY-MM-DD HH:MM`. */
export function formatDateTime(epoch, { seconds = false } = {}) {
  if (typeof epoch !== 'number') return '';
  const d = new Date(epoch * 1000);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return `${date} ${time}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
}

/** Seconds as h:mm:ss (hours grow past 24). */
export function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${h}:${pad(m)}:${pad(total % 60)}`;
}

/** Bytes as 1.2 kB, 3.4 MB. */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number') return '';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toPrecision(3)} ${units[unit]}`;
}

/** The first 7 characters of a commit hash. */
export function shortCommit(commit) {
  return typeof commit === 'string' ? commit.slice(0, 7) : '';
}

/** A status name fit for a CSS class (unknown words become `unknown`). */
export function statusClass(status) {
  return /^[a-z]+$/.test(status ?? '') ? `status-${status}` : 'status-unknown';
}
