// Entry point: the top bar, the error banner and a router on
// location.pathname (History API), so every page path of the server works.
import 'uplot/dist/uPlot.min.css';
import './style.css';

import { getJSON } from './api.js';
import { clearError, showError } from './banner.js';
import { el, link } from './dom.js';
import { navigate } from './nav.js';
import { renderCompare } from './pages/compare.js';
import { renderHome } from './pages/home.js';
import { renderJournal } from './pages/journal.js';
import { renderRun } from './pages/run.js';
import { renderSweep } from './pages/sweep.js';
import { renderSweeps } from './pages/sweeps.js';

const routes = [
  [/^\/$/, renderHome],
  [/^\/runs\/([^/]+)\/?$/, renderRun],
  [/^\/compare\/?$/, renderCompare],
  [/^\/journal\/?$/, renderJournal],
  [/^\/sweeps\/?$/, renderSweeps],
  [/^\/sweeps\/([^/]+)\/?$/, renderSweep],
];

let current = null;

/**
 * What a page gets: `signal` aborts its requests when it is left, `every`
 * runs a timer that stops then, `onLeave` registers more clean-up, and
 * `alive()` tells a late answer whether the page is still shown.
 */
class PageContext {
  constructor() {
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.cleanups = [];
  }

  alive() {
    return !this.signal.aborted;
  }

  every(ms, fn) {
    const timer = setInterval(fn, ms);
    this.onLeave(() => clearInterval(timer));
  }

  onLeave(fn) {
    this.cleanups.push(fn);
  }

  leave() {
    this.controller.abort();
    for (const fn of this.cleanups) fn();
  }
}

function route() {
  if (current) current.leave();
  current = new PageContext();
  clearError();
  delete document.body.dataset.ready;
  const root = document.getElementById('app');
  root.replaceChildren();
  const path = window.location.pathname;
  for (const [pattern, render] of routes) {
    const match = pattern.exec(path);
    if (match) {
      markNav(path);
      render(root, current, ...match.slice(1).map(decodeURIComponent));
      return;
    }
  }
  root.append(el('p', { class: 'empty', text: `No page at ${path}.` }), link('/', 'Back to the runs'));
  document.body.dataset.ready = '1';
}

function markNav(path) {
  for (const a of document.querySelectorAll('#topbar nav a')) {
    const here = a.dataset.section === sectionOf(path);
    a.classList.toggle('active', here);
  }
}

function sectionOf(path) {
  if (path.startsWith('/journal')) return 'journal';
  return path.startsWith('/sweeps') ? 'sweeps' : 'runs';
}

// Links to pages of this app are followed without a reload; downloads,
// new tabs and the API are left to the browser.
function onClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== window.location.origin) return;
  if (a.pathname.startsWith('/api/') || a.pathname.startsWith('/-/') || a.pathname.includes('/files/')) return;
  event.preventDefault();
  if (a.pathname === window.location.pathname && a.search === window.location.search && a.hash) {
    // A link within the page: record it and scroll, without rendering again
    // (which would drop what is being typed).
    window.history.pushState(null, '', a.hash);
    document.getElementById(decodeURIComponent(a.hash.slice(1)))?.scrollIntoView({ block: 'start' });
    return;
  }
  navigate(a.pathname + a.search + a.hash);
}

function renderTopbar() {
  const store = el('span', { class: 'store', title: 'The store this page shows' });
  document.getElementById('topbar').replaceChildren(
    link('/', 'runlab', { class: 'brand' }),
    el('nav', {},
      link('/', 'Runs', { dataset: { section: 'runs' } }),
      link('/sweeps', 'Sweeps', { dataset: { section: 'sweeps' } }),
      link('/journal', 'Journal', { dataset: { section: 'journal' } })),
    store,
  );
  getJSON('/-/info').then((info) => {
    store.textContent = info.store ?? info.store_path ?? '';
    if (info.version) store.title = `runlab ${info.version} · ${info.runs ?? info.run_count ?? '?'} runs`;
  }).catch(showError);
}

renderTopbar();
document.addEventListener('click', onClick);
window.addEventListener('popstate', route);
route();
