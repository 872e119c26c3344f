// The page's one path to the server: JSON in, JSON out, and one error shape
// ({"error": {"status", "type", "message", "position"?}}) turned into ApiError.

/** An error answer of the API, or a failure to reach it. */
export class ApiError extends Error {
  constructor(status, type, message, position = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.position = position;
  }
}

/** Builds `path?query`, leaving out parameters that are null, undefined or ''. */
export function buildUrl(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    query.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** GETs JSON; throws ApiError on an error answer. `signal` aborts. */
export async function getJSON(path, params = {}, { signal } = {}) {
  return request(buildUrl(path, params), { signal });
}

/** Sends a JSON body with POST or PUT; throws ApiError on an error answer. */
export async function sendJSON(method, path, body) {
  return request(path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function request(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin', ...init,
      headers: { Accept: 'application/json', ...(init.headers || {}) } });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NetworkError', `The server did not answer (${err.message}). Is runlab ui still running?`);
  }
  if (response.ok) return response.json();
  throw await errorFrom(response);
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not our JSON error shape (a proxy's page, say): fall back to the status.
  }
  const e = body && body.error;
  if (e && typeof e.message === 'string') {
    return new ApiError(e.status ?? response.status, e.type ?? 'Error', e.message, e.position ?? null);
  }
  return new ApiError(response.status, 'HTTPError', `${response.status} ${response.statusText}`.trim());
}

/** True for an aborted fetch, which callers drop silently. */
export function isAbort(err) {
  return err && err.name === 'AbortError';
}

/**
 * Fetches name and status of the given runs in one request (a filter on
 * their ids), in the order given; runs not found are left out.
 */
export async function getRunsInfo(ids, { signal } = {}) {
  if (!ids.length) return [];
  const where = ids.map((id) => `id = '${id.replaceAll("'", '')}'`).join(' or ');
  const data = await getJSON('/api/runs', { where, limit: Math.min(1000, ids.length) }, { signal });
  const byId = new Map(data.rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id)).filter(Boolean);
}
