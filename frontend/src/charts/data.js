// Data shaping for the charts: smoothing, log-safe values and the merge of
// many series onto the one x array uPlot needs.
//
// The merge: uPlot draws every series of a plot against one shared, sorted
// x array. Runs log different steps (and times), so the x values of all
// series are merged into their sorted union, and each series is laid on it.
// A slot where a series has no point of its own stays `undefined`, which
// uPlot steps over (the line joins its neighbours), while a `null` (a NaN
// or an infinity in the run, or y <= 0 on a log axis) stays `null`, which
// uPlot draws as a gap (widened over the undefined slots around it). So
// spanGaps stays false and both kinds of hole are drawn right. A
// hand-written merge on sorted typed arrays is used instead of uPlot.join,
// whose Set and Map cost several times more on 50 x 4,000 points.

/**
 * Exponential moving average with debiasing (as TensorBoard does):
 * s_t = w*s_{t-1} + (1-w)*y_t, shown as s_t / (1 - w^n) after n values, so
 * the first points are not pulled to 0. Nulls stay null and are skipped.
 */
export function smooth(ys, weight) {
  if (!(weight > 0)) return ys;
  const out = new Array(ys.length);
  let acc = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined) {
      out[i] = y;
      continue;
    }
    acc = acc * weight + (1 - weight) * y;
    n += 1;
    out[i] = acc / (1 - weight ** n);
  }
  return out;
}

/** Values for a log axis: y <= 0 becomes null (a gap). */
export function logSafe(ys) {
  return ys.map((y) => (y !== null && y !== undefined && y <= 0 ? null : y));
}

function sameValues(a, b) {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSorted(xs) {
  for (let i = 1; i < xs.length; i++) if (xs[i] < xs[i - 1]) return false;
  return true;
}

/** The sorted union of several x arrays, without duplicates. */
export function unionX(xsList) {
  let size = 0;
  for (const xs of xsList) size += xs.length;
  const all = new Float64Array(size);
  let at = 0;
  for (const xs of xsList) {
    all.set(xs, at);
    at += xs.length;
  }
  all.sort();
  let unique = 0;
  for (let i = 0; i < all.length; i++) {
    if (i === 0 || all[i] !== all[unique - 1]) all[unique++] = all[i];
  }
  return all.subarray(0, unique);
}

function lowerBound(sorted, value) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Lays one series (xs, ys) on the union; missing slots stay undefined,
 * except those next to a null, which become null too (see widenGaps).
 */
export function placeOn(union, xs, ys) {
  const out = new Array(union.length);
  if (isSorted(xs)) {
    let j = 0;
    for (let i = 0; i < xs.length; i++) {
      while (union[j] < xs[i]) j++;
      out[j] = ys[i];
    }
  } else {
    for (let i = 0; i < xs.length; i++) out[lowerBound(union, xs[i])] = ys[i];
  }
  if (ys.includes(null)) widenGaps(out);
  return out;
}

/**
 * uPlot cuts a gap from the slot before a null to the slot after it, but
 * strokes the line from the series' own point before to its own point
 * after: when other series' x values sit between (undefined slots here),
 * most of that joining line would show. So the undefined slots around a
 * null become null, and the gap reaches the series' own neighbours.
 */
export function widenGaps(out) {
  for (let i = 1; i < out.length; i++) {
    if (out[i] === undefined && out[i - 1] === null) out[i] = null;
  }
  for (let i = out.length - 2; i >= 0; i--) {
    if (out[i] === undefined && out[i + 1] === null) out[i] = null;
  }
  return out;
}

/**
 * Aligns columns that come with their own x arrays.
 *
 * parts: [{x, columns: [ys, ...]}] (each ys as long as its x).
 * Returns uPlot data: [x, ...every column in order].
 */
export function alignParts(parts) {
  const withPoints = parts.filter((p) => p.x.length > 0);
  const first = withPoints[0];
  if (!first) return [[], ...parts.flatMap((p) => p.columns.map(() => []))];
  if (withPoints.every((p) => sameValues(p.x, first.x)) && isSorted(first.x)) {
    const n = first.x.length;
    const pad = (ys) => (ys.length === n ? ys : new Array(n));
    return [first.x, ...parts.flatMap((p) => p.columns.map(pad))];
  }
  const union = unionX(withPoints.map((p) => p.x));
  return [union, ...parts.flatMap((p) => p.columns.map((ys) => placeOn(union, p.x, ys)))];
}
