// The single-page app: the URL is the state (path = page, query = the API's parameters),
// links inside /ui navigate without a reload, each page gets a fresh mount and cleans up.
import 'uplot/dist/uPlot.min.css';   // here, not in charts.js: CSS of a lazily loaded chunk is never linked
import './style.css';
import { setToken, token } from './api.js';
import { destroyCharts } from './charts.js';
import { destroyGraphs } from './registry.js';
import { h, replace } from './dom.js';
// each page is its own chunk, fetched when first shown: the overview parses no Markdown
// renderer and no graph library
const ROUTES = [
  [/^\/ui\/?$/, () => import('./pages/overview.js')],
  [/^\/ui\/incidents\/?$/, () => import('./pages/incidents.js')],
  [/^\/ui\/incidents\/(\d+)\/?$/, () => import('./pages/incident.js')],
  [/^\/ui\/logs\/?$/, () => import('./pages/logs.js')],
  [/^\/ui\/templates\/?$/, () => import('./pages/templates.js')],
  [/^\/ui\/templates\/(\d+)\/?$/, () => import('./pages/templates.js')],
  [/^\/ui\/graph\/?$/, () => import('./pages/graph.js')],
  [/^\/ui\/chat\/?$/, () => import('./pages/chat.js')],
  [/^\/ui\/events\/(\d+)\/?$/, () => import('./pages/event.js')],
];
const NAV = [['/ui', 'Overview'], ['/ui/incidents', 'Incidents'], ['/ui/logs', 'Logs'], ['/ui/templates', 'Templates'],
  ['/ui/graph', 'Graph'], ['/ui/chat', 'Chat']];

let cleanup = null;

export function navigate(href, { replace: swap = false } = {}) {
  if (swap) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  render();
}

function renderNav() {
  const here = location.pathname.replace(/\/$/, '') || '/ui';
  replace(document.getElementById('nav'), NAV.map(([href, label]) => h('a', {
    href, class: (href === '/ui' ? here === '/ui' : here.startsWith(href)) ? 'active' : null }, label)));
  replace(document.getElementById('whoami'), token()
    ? h('button', { class: 'link', onclick: () => { setToken(''); render(); } }, 'forget token') : null);
}

let rendering = 0;

async function render() {
  const mine = ++rendering;
  if (cleanup) { try { cleanup(); } catch { /* a page's own cleanup failing must not stop navigation */ } }
  cleanup = null;
  destroyCharts();
  destroyGraphs();
  hideBanner();
  renderNav();
  const root = document.getElementById('app');
  root.replaceChildren();
  for (const [pattern, load] of ROUTES) {
    const m = location.pathname.match(pattern);
    if (!m) continue;
    let page;
    try {
      page = await load();
    } catch (e) {
      replace(root, h('div', { class: 'error-box' }, `this page's code could not be loaded (${e.message}); reload, or rebuild with make ui`));
      return;
    }
    if (mine !== rendering) return;               // navigated again while the chunk loaded
    cleanup = page.mount(root, { params: new URLSearchParams(location.search), match: m, navigate }) || null;
    return;
  }
  replace(root, h('section', { class: 'card' }, h('h2', {}, 'No such page'),
    h('p', {}, 'Try the ', h('a', { href: '/ui' }, 'overview'), '.')));
}

function hideBanner() {
  const banner = document.getElementById('banner');
  banner.hidden = true;
  banner.replaceChildren();
}

// a 401 from any call: ask for a token (never stored in the page; this tab's session only)
function askToken(message) {
  const banner = document.getElementById('banner');
  if (banner.querySelector('form')) return;
  const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', placeholder: 'API token',
    'aria-label': 'API token' });
  const form = h('form', { id: 'token-form', class: 'token-form', onsubmit: (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    render();
  } }, h('label', { for: 'token-input' }, 'This server needs an API token (a TOKEN:read one is enough to look; ',
    'acknowledging and feedback need admin): '), input, h('button', { type: 'submit' }, 'Use token'),
  message ? h('div', { class: 'muted' }, message) : null);
  replace(banner, form);
  banner.hidden = false;
  input.focus();
}

window.addEventListener('devmesh:token-needed', (e) => askToken(e.detail));
window.addEventListener('popstate', render);
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const href = a.getAttribute('href');
  if (!href.startsWith('/ui') || href.startsWith('/ui/assets/')) return;
  e.preventDefault();
  navigate(href);
});
render();
