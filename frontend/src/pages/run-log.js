// The run's log (#log): the last 64 KiB, then a live tail with offset=next
// while the run is running. The view follows new text only when it was
// scrolled to the bottom, so reading older lines is not disturbed.
import { getJSON, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { el, fileHref, link, runHref } from '../dom.js';
import { formatBytes } from '../format.js';

const TAIL_MS = 2000;
const KEEP_CHARS = 2_000_000;

/** Creates the log section; `isRunning()` says whether to keep tailing. */
export function logView(ctx, runId, isRunning) {
  const pre = el('pre', { id: 'log', class: 'log' });
  const note = el('p', { class: 'muted' });
  const url = `/api${runHref(runId)}/log`;
  let next = null;
  let busy = false;
  let wasRunning = false;

  function add(answer, first) {
    const follow = first || pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    if (answer.text) pre.append(document.createTextNode(answer.text));
    if (pre.textContent.length > KEEP_CHARS) pre.textContent = pre.textContent.slice(-KEEP_CHARS);
    next = answer.next;
    if (follow) pre.scrollTop = pre.scrollHeight;
    if (first && answer.offset > 0) {
      note.replaceChildren(`Showing the last ${formatBytes(answer.size - answer.offset)} of ${formatBytes(answer.size)}; `,
        link(fileHref(runId, 'log.txt'), 'download the whole log', { download: '' }), '.');
    }
  }

  async function read(params, first = false) {
    if (busy) return;
    busy = true;
    try {
      add(await getJSON(url, params, { signal: ctx.signal }), first);
    } catch (err) {
      if (!isAbort(err) && ctx.alive()) showError(err);
    } finally {
      busy = false;
    }
  }

  read({}, true);
  ctx.every(TAIL_MS, () => {
    if (document.hidden || next === null) return;
    const running = isRunning();
    // One more read after the run ends, for its last lines.
    if (running || wasRunning) read({ offset: next });
    wasRunning = running;
  });
  return el('section', { class: 'card' }, el('h2', { text: 'Log' }), note, pre);
}
