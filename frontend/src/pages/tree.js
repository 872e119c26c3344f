// A nested object (a config, an environment) as a collapsible tree of
// <details>: one level per key, leaves as `key: value`.
import { el } from '../dom.js';
import { formatValue, isNumeric } from '../format.js';

function isBranch(value) {
  return value !== null && typeof value === 'object' && Object.keys(value).length > 0;
}

function leaf(key, value) {
  const text = typeof value === 'string' && !isNumeric(value) ? value : formatValue(value);
  return el('li', { class: 'leaf' }, el('span', { class: 'key', text: key }),
    el('span', { class: isNumeric(value) ? 'value num' : 'value', text: text === '' ? 'null' : text }));
}

/**
 * Renders `value` (object or array) as a tree. Levels shallower than
 * `openDepth` start open.
 */
export function tree(value, { openDepth = 1, depth = 0 } = {}) {
  const list = el('ul', { class: 'tree' });
  for (const [key, child] of Object.entries(value ?? {})) {
    if (isBranch(child)) {
      const size = Object.keys(child).length;
      list.append(el('li', {}, el('details', { open: depth < openDepth },
        el('summary', {}, el('span', { class: 'key', text: key }), el('span', { class: 'count', text: `${size}` })),
        tree(child, { openDepth, depth: depth + 1 }))));
    } else {
      list.append(leaf(key, child));
    }
  }
  return list;
}
