// Navigation without a reload: push the URL, then let the router (which
// listens to popstate, as for Back and Forward) render the page.

/** Goes to a path of this page without a reload. */
export function navigate(url) {
  window.history.pushState(null, '', url);
  window.dispatchEvent(new PopStateEvent('popstate'));
}
