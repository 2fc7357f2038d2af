// The single-page app: the URL is the state (path = page, query = the API's parameters),
// links inside /ui navigate without a reload, each page gets a fresh mount and cleans up.
import './style.css';
import { setToken, token } from './api.js';
import { destroyCharts } from './charts.js';
import { destroyGraphs } from './registry.js';
import { h, replace } from './dom.js';
import * as overview from './pages/overview.js';
import * as incidents from './pages/incidents.js';
import * as incident from './pages/incident.js';
import * as logs from './pages/logs.js';
import * as chat from './pages/chat.js';
import * as event from './pages/event.js';
import * as templates from './pages/templates.js';
import * as graph from './pages/graph.js';

const ROUTES = [
  [/^\/ui\/?$/, overview, 'Overview'],
  [/^\/ui\/incidents\/?$/, incidents, 'Incidents'],
  [/^\/ui\/incidents\/(\d+)\/?$/, incident, null],
  [/^\/ui\/logs\/?$/, logs, 'Logs'],
  [/^\/ui\/templates\/?$/, templates, 'Templates'],
  [/^\/ui\/templates\/(\d+)\/?$/, templates, null],
  [/^\/ui\/graph\/?$/, graph, 'Graph'],
  [/^\/ui\/chat\/?$/, chat, 'Chat'],
  [/^\/ui\/events\/(\d+)\/?$/, event, null],
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

function render() {
  if (cleanup) { try { cleanup(); } catch { /* a page's own cleanup failing must not stop navigation */ } }
  cleanup = null;
  destroyCharts();
  destroyGraphs();
  hideBanner();
  renderNav();
  const root = document.getElementById('app');
  root.replaceChildren();
  for (const [pattern, page] of ROUTES) {
    const m = location.pathname.match(pattern);
    if (m) {
      cleanup = page.mount(root, { params: new URLSearchParams(location.search), match: m, navigate }) || null;
      return;
    }
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
