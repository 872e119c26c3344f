// The editable parts of the run page: tags (chips with an x and an input)
// and notes (rendered Markdown with Edit, Save and Cancel).
import { sendJSON } from '../api.js';
import { clearError, showError } from '../banner.js';
import { chip, el, runHref, setTrustedHtml } from '../dom.js';

/** The tag editor (#tags, #tag-input); saves with PUT /api/runs/{id}/tags. */
export function tagEditor(runId, initialTags) {
  let tags = [...initialTags];
  const list = el('span', { class: 'chips' });
  const input = el('input', { id: 'tag-input', type: 'text', placeholder: 'add tag', autocomplete: 'off',
    'aria-label': 'Add a tag' });

  function render() {
    list.replaceChildren(...tags.map((t) => chip(t, () => save(tags.filter((x) => x !== t)))));
  }

  async function save(next) {
    try {
      const answer = await sendJSON('PUT', `/api/runs/${encodeURIComponent(runId)}/tags`, { tags: next });
      tags = answer.tags ?? next;
      clearError();
      render();
      return true;
    } catch (err) {
      showError(err);
      return false;
    }
  }

  input.addEventListener('keydown', async (event) => {
    if (event.key !== 'Enter') return;
    const value = input.value.trim();
    if (!value || tags.includes(value)) {
      input.value = '';
      return;
    }
    if (await save([...tags, value])) input.value = '';
  });
  render();
  return el('div', { id: 'tags', class: 'tag-editor' }, list, input);
}

/** The notes (#notes) with #notes-edit, #notes-text, #notes-save. */
export function notesEditor(runId, notes, notesHtml) {
  let raw = notes ?? '';
  const view = el('div', { id: 'notes', class: 'markdown' });
  const empty = el('p', { class: 'empty', text: 'No notes yet.' });
  const text = el('textarea', { id: 'notes-text', rows: 12, spellcheck: true });
  const save = el('button', { id: 'notes-save', type: 'button', class: 'primary', text: 'Save' });
  const cancel = el('button', { id: 'notes-cancel', type: 'button', text: 'Cancel' });
  const edit = el('button', { id: 'notes-edit', type: 'button', text: 'Edit' });
  const form = el('div', { class: 'notes-form', hidden: true }, text, el('div', { class: 'buttons' }, save, cancel));

  function show(html) {
    setTrustedHtml(view, html);
    empty.hidden = Boolean(raw.trim());
  }

  function editing(on) {
    form.hidden = !on;
    view.hidden = on;
    edit.hidden = on;
    if (on) {
      text.value = raw;
      text.focus();
    }
  }

  edit.addEventListener('click', () => editing(true));
  cancel.addEventListener('click', () => editing(false));
  save.addEventListener('click', async () => {
    save.disabled = true;
    try {
      const answer = await sendJSON('PUT', `${apiRun(runId)}/notes`, { text: text.value });
      raw = answer.notes ?? text.value;
      clearError();
      show(answer.notes_html ?? '');
      editing(false);
    } catch (err) {
      showError(err);
    } finally {
      save.disabled = false;
    }
  });
  show(notesHtml);
  return el('section', { class: 'card notes' },
    el('div', { class: 'card-head' }, el('h2', { text: 'Notes' }), edit), view, empty, form);
}

function apiRun(runId) {
  return `/api${runHref(runId)}`;
}
