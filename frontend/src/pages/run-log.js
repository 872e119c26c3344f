// The run's log (#log): the last 64 KiB, then a live tail with offset=next
// while the run is running. The view follows new text only when it was
// scrolled to the bottom, so reading older lines is not disturbed.
import { getJSON, isAbort } from '../api.js';
import { showError } from '../banner.js';
import { el, fileHref, link, runHref } from '../dom.js';
import { formatBytes } from '../format.js';

const TAIL_MS = 2000;
const KEEP_CHARS = 2_000_000;

// Terminal control in a log: colour and cursor codes (CSI, OSC and two-byte
// escapes) are dropped; a carriage return starts its line again, as a
// progress bar redrawn in place expects.
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[@-_])/g;
const UNFINISHED_ESCAPE = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[()])?$/;

/** Log text as a terminal would show it, fed chunk by chunk. */
export class TerminalText {
  constructor() {
    this.done = ''; // whole lines, each ending in \n
    this.line = ''; // the line being written
    this.restart = false; // a \r was read: the next text overwrites the line
    this.held = ''; // an escape cut by the chunk's end
  }

  add(chunk) {
    let text = this.held + chunk;
    this.held = text.match(UNFINISHED_ESCAPE)?.[0] ?? '';
    if (this.held) text = text.slice(0, -this.held.length);
    text.replace(ESCAPES, '').split('\n').forEach((part, i) => {
      if (i > 0) {
        this.done += `${this.line}\n`;
        this.line = '';
        this.restart = false;
      }
      part.split('\r').forEach((piece, j) => {
        if (j > 0) this.restart = true;
        if (!piece) return;
        if (this.restart) this.line = '';
        this.restart = false;
        this.line += piece;
      });
    });
  }

  /** Drops the oldest whole lines beyond `chars`; returns whether any went. */
  trim(chars) {
    if (this.done.length + this.line.length <= chars) return false;
    const cut = this.done.indexOf('\n', this.done.length - chars);
    this.done = cut < 0 ? '' : this.done.slice(cut + 1);
    return true;
  }
}

/** Creates the log section; `isRunning()` says whether to keep tailing. */
export function logView(ctx, runId, isRunning) {
  const pre = el('pre', { id: 'log', class: 'log' });
  const terminal = new TerminalText();
  const lineNode = document.createTextNode('');
  pre.append(lineNode);
  const note = el('p', { class: 'muted' });
  const url = `/api${runHref(runId)}/log`;
  let next = null;
  let busy = false;
  let wasRunning = false;

  function add(answer, first) {
    const follow = first || pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    if (answer.text) {
      const before = terminal.done.length;
      terminal.add(answer.text);
      if (terminal.trim(KEEP_CHARS)) {
        pre.replaceChildren(document.createTextNode(terminal.done), lineNode);
      } else if (terminal.done.length > before) {
        lineNode.before(document.createTextNode(terminal.done.slice(before)));
      }
      lineNode.data = terminal.line;
    }
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
