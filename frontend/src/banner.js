// The error banner (#error-banner) at the top of every page.
import { el } from './dom.js';
import { ApiError, isAbort } from './api.js';

function banner() {
  return document.getElementById('error-banner');
}

/** Shows an error's message in the banner; aborted fetches are ignored. */
export function showError(err) {
  if (isAbort(err)) return;
  const node = banner();
  const message = err && err.message ? err.message : String(err);
  node.replaceChildren(
    el('span', { class: 'error-text', text: message }),
    el('button', { class: 'error-close', type: 'button', title: 'Dismiss', text: '×', onclick: clearError }),
  );
  node.hidden = false;
  // An ApiError is the server's word; anything else is a bug of the page.
  if (!(err instanceof ApiError)) console.error(err);
}

/** Hides the banner. */
export function clearError() {
  const node = banner();
  node.hidden = true;
  node.replaceChildren();
}
