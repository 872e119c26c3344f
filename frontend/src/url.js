// The page's state lives in the URL query, so a reload or a bookmark
// restores the view. These helpers read it and change it in place.

/** The current query. */
export function query() {
  return new URLSearchParams(window.location.search);
}

/** One query parameter, or `fallback` when absent or empty. */
export function param(name, fallback = null) {
  const value = query().get(name);
  return value === null || value === '' ? fallback : value;
}

/** A comma-separated parameter as a list (empty when absent). */
export function listParam(name) {
  const value = param(name);
  return value ? value.split(',').filter(Boolean) : [];
}

/**
 * Changes query parameters (null or '' or [] removes one) and records the
 * new URL: `push` adds a history entry (Back returns), else it replaces.
 */
export function setParams(changes, { push = false } = {}) {
  const q = query();
  for (const [key, value] of Object.entries(changes)) {
    const text = Array.isArray(value) ? value.join(',') : value;
    if (text === null || text === undefined || text === '') q.delete(key);
    else q.set(key, String(text));
  }
  // Commas and slashes read better in a URL than %2C and %2F, and both are
  // safe in a query.
  const search = q.toString().replaceAll('%2C', ',').replaceAll('%2F', '/');
  const url = `${window.location.pathname}${search ? `?${search}` : ''}${window.location.hash}`;
  if (url === currentUrl()) return;
  if (push) window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
}

function currentUrl() {
  return `${window.location.pathname}${window.location.search}${window.location.hash}`;
}
