// Small DOM helpers. Every string a user or a run wrote goes in as text;
// `setTrustedHtml` is the one door for HTML, kept for what the server has
// already rendered and sanitized (notes_html and journal html).

/**
 * Creates an element.
 *
 * attrs: `class`, `text` (textContent), `on<event>` (listener functions),
 * `dataset` (object), DOM properties that exist on the element (`value`,
 * `checked`, `disabled`, `href`, ...), anything else as an attribute.
 * Children: nodes, strings (as text), or null/false (skipped).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    setAttr(node, key, value);
  }
  append(node, ...children);
  return node;
}

function setAttr(node, key, value) {
  if (value === undefined || value === null || value === false) return;
  if (key === 'class') node.className = value;
  else if (key === 'text') node.textContent = String(value);
  else if (key === 'dataset') Object.assign(node.dataset, value);
  else if (key.startsWith('on') && typeof value === 'function') {
    node.addEventListener(key.slice(2), value);
  } else if (key in node && key !== 'list' && key !== 'form') node[key] = value;
  else node.setAttribute(key, value === true ? '' : String(value));
}

/** Appends nodes and strings (as text nodes); skips null and false. */
export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Sets HTML the server rendered and sanitized; never pass user text here. */
export function setTrustedHtml(node, html) {
  node.innerHTML = html ?? '';
}

/** A tag chip; `onRemove` adds an x button. */
export function chip(text, onRemove = null) {
  const node = el('span', { class: 'chip', text });
  if (onRemove) {
    const label = `Remove tag ${text}`;
    append(node, el('button', { class: 'chip-x', type: 'button', title: label,
      'aria-label': label, text: '×', onclick: onRemove }));
  }
  return node;
}

/** A link inside the page (the router handles the click). */
export function link(href, text, attrs = {}) {
  return el('a', { href, text, ...attrs });
}

/** The page path of a run. */
export function runHref(id) {
  return `/runs/${encodeURIComponent(id)}`;
}

/** The download path of a file in a run folder, each segment encoded. */
export function fileHref(id, path) {
  const segments = path.split('/').map(encodeURIComponent).join('/');
  return `${runHref(id)}/files/${segments}`;
}

/** A section with a heading. */
export function section(title, ...children) {
  return el('section', { class: 'card' }, el('h2', { text: title }), ...children);
}

/** A two-column table of [label, value-node-or-text] pairs. */
export function factsTable(pairs) {
  const rows = pairs
    .filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([label, value]) => el('tr', {}, el('th', { text: label }), el('td', {}, value)));
  return el('table', { class: 'facts' }, el('tbody', {}, rows));
}

/** Calls fn at most once per `ms`, with the latest arguments. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
