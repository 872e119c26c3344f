// The journal page (/journal): new entry, then every entry newest first,
// each with id=<entry id> (so /journal#<id> scrolls to it) and an Edit.
import { getJSON, isAbort, sendJSON } from '../api.js';
import { clearError, showError } from '../banner.js';
import { chip, el, setTrustedHtml } from '../dom.js';
import { formatDateTime } from '../format.js';

/** "a, b c" -> ['a', 'b', 'c']. */
function parseTags(text) {
  return [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
}

/** Renders the journal into root. */
export async function renderJournal(root, ctx) {
  const list = el('div', { id: 'journal-list' });
  root.append(el('h1', { text: 'Journal' }), newEntryForm(list), list);
  try {
    const data = await getJSON('/api/journal', {}, { signal: ctx.signal });
    const entries = data.entries ?? [];
    list.append(...entries.map(entryView));
    if (!entries.length) list.append(el('p', { class: 'empty', id: 'journal-empty', text: 'No entries yet.' }));
    scrollToHash();
  } catch (err) {
    if (!isAbort(err)) showError(err);
  } finally {
    document.body.dataset.ready = '1';
  }
}

function scrollToHash() {
  const id = decodeURIComponent(window.location.hash.slice(1));
  const target = id && document.getElementById(id);
  if (target) {
    target.classList.add('highlight');
    target.scrollIntoView({ block: 'start' });
  }
}

function newEntryForm(list) {
  const text = el('textarea', { id: 'journal-text', rows: 5, placeholder: 'What did you try, see, decide? Run ids and names become links.' });
  const tags = el('input', { id: 'journal-tags', type: 'text', placeholder: 'tags, comma separated', autocomplete: 'off' });
  const save = el('button', { id: 'journal-save', type: 'button', class: 'primary', text: 'Save' });
  save.addEventListener('click', async () => {
    if (!text.value.trim()) return;
    save.disabled = true;
    try {
      const entry = await sendJSON('POST', '/api/journal', { text: text.value, tags: parseTags(tags.value) });
      clearError();
      document.getElementById('journal-empty')?.remove();
      list.prepend(entryView(entry));
      text.value = '';
      tags.value = '';
    } catch (err) {
      showError(err);
    } finally {
      save.disabled = false;
    }
  });
  return el('section', { class: 'card journal-new' }, el('h2', { text: 'New entry' }), text,
    el('div', { class: 'buttons' }, tags, save));
}

/** One entry; Edit swaps the rendered text for a form. */
function entryView(entry) {
  const node = el('article', { class: 'card entry', id: entry.id });
  const edited = entry.updated && entry.created && entry.updated - entry.created > 1;
  const body = el('div', { class: 'markdown' });
  setTrustedHtml(body, entry.html);
  const edit = el('button', { type: 'button', class: 'entry-edit', text: 'Edit', onclick: () => editEntry(node, entry) });
  node.append(
    el('div', { class: 'entry-head' },
      el('span', { class: 'muted', text: formatDateTime(entry.created) + (edited ? ` · edited ${formatDateTime(entry.updated)}` : '') }),
      el('span', { class: 'chips' }, (entry.tags ?? []).map((t) => chip(t))), edit),
    body);
  return node;
}

function editEntry(node, entry) {
  const text = el('textarea', { class: 'entry-text', rows: Math.min(20, Math.max(5, entry.text.split('\n').length + 1)), value: entry.text });
  const tags = el('input', { class: 'entry-tags', type: 'text', value: (entry.tags ?? []).join(', ') });
  const save = el('button', { type: 'button', class: 'primary entry-save', text: 'Save' });
  const cancel = el('button', { type: 'button', text: 'Cancel', onclick: () => node.replaceWith(entryView(entry)) });
  save.addEventListener('click', async () => {
    save.disabled = true;
    try {
      const updated = await sendJSON('PUT', `/api/journal/${encodeURIComponent(entry.id)}`, { text: text.value, tags: parseTags(tags.value) });
      clearError();
      node.replaceWith(entryView(updated));
    } catch (err) {
      showError(err);
      save.disabled = false;
    }
  });
  node.replaceChildren(text, el('div', { class: 'buttons' }, tags, save, cancel));
  text.focus();
}
