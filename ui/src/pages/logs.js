// /ui/logs: the log explorer. Filters are /query/logs's own parameters, kept in the URL
// (service, host, level, since, until, q, template_id, cursor); a histogram of the same
// filters above the list; keyset pages; a click on a line opens its template and the lines
// around it on its host (GET /events/{id}). Every message is shown as text.
import { api } from '../api.js';
import { histogram, widthOf } from '../charts.js';
import { badge, errorBox, fmtTime, h, replace, section, table } from '../dom.js';

const LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
const SINCE = ['', '15m', '1h', '6h', '24h', '7d'];
const FIELDS = ['service', 'host', 'since', 'until', 'q', 'template_id'];
const PAGE = 100;

function buildForm(params, navigate) {
  const levels = new Set(params.getAll('level').flatMap((v) => v.split(',')).filter(Boolean));
  const input = (name, placeholder, attrs = {}) => h('input', { name, id: `f-${name}`, placeholder, value: params.get(name) || '', ...attrs });
  const since = params.get('since') || '';
  const form = h('form', { class: 'filters', id: 'log-filters', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    const data = new FormData(form);
    for (const k of FIELDS) {
      const v = (k === 'since' && data.get('since_custom')) ? data.get('since_custom') : data.get(k);
      if (v && String(v).trim()) q.set(k, String(v).trim());
    }
    const picked = data.getAll('level');
    if (picked.length) q.set('level', picked.join(','));
    navigate(`/ui/logs${q.toString() ? `?${q}` : ''}`);
  } },
  h('label', {}, 'service ', input('service', 'e.g. mariadb (comma list)')),
  h('label', {}, 'host ', input('host', 'host')),
  h('label', {}, 'since ', h('select', { name: 'since', id: 'f-since' }, SINCE.map((v) => h('option', { value: v, selected: v === since }, v || 'any time'))),
    input('since_custom', 'or ISO 8601', { value: SINCE.includes(since) ? '' : since })),
  h('label', {}, 'until ', input('until', 'ISO 8601 or 15m')),
  h('label', {}, 'text ', input('q', 'substring')),
  h('label', {}, 'template ', input('template_id', 'template id')),
  h('fieldset', { class: 'levels', id: 'f-levels' }, h('legend', {}, 'level'), LEVELS.map((lv) =>
    h('label', {}, h('input', { type: 'checkbox', name: 'level', value: lv, checked: levels.has(lv) }), lv))),
  h('button', { type: 'submit', id: 'apply' }, 'Apply'),
  h('a', { href: '/ui/logs', class: 'button-like' }, 'Clear'));
  return form;
}

function query(params) {
  const out = {};
  for (const k of [...FIELDS, 'level']) if (params.get(k)) out[k] = params.getAll(k);
  return out;
}

function detail(event, row) {
  const box = h('td', { colspan: 5, class: 'detail' }, h('span', { class: 'muted' }, 'Loading context…'));
  const tr = h('tr', { class: 'detail-row' }, box);
  row.after(tr);
  api(`/events/${event.id}`, { params: { context: 5 } }).then((d) => {
    const line = (e) => h('div', { class: e.id === event.id ? 'ctx-line this' : 'ctx-line' },
      h('span', { class: 'muted' }, fmtTime(e.ts)), ' ', badge(e.level), ' ', h('span', { class: 'muted' }, e.service), ' ', h('span', { class: 'msg' }, e.message));
    const host = d.neighbours.host;
    replace(box, h('div', {}, h('strong', {}, 'template '),
      d.template ? [h('a', { href: `/ui/templates/${d.template.id}` }, String(d.template.id)), ': ', h('code', { class: 'template-text' }, d.template.template)] : 'unknown'),
    h('div', { class: 'muted' }, `lines around it on ${d.event.host}:`),
    h('div', { class: 'context' }, host.before.map(line), line(d.event), host.after.map(line)),
    h('a', { href: `/ui/events/${event.id}` }, 'open this line'));
  }).catch((e) => replace(box, errorBox(e)));
  return tr;
}

export function mount(root, { params, navigate }) {
  const chartBox = h('div', { class: 'chart', id: 'histogram' });
  const chartNote = h('p', { class: 'muted', id: 'histogram-note' });
  const list = h('div', { id: 'log-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const pager = h('div', { class: 'pager' });
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Logs')), section('Filters', buildForm(params, navigate)),
    section('Lines per step', chartBox, chartNote), section('Lines (newest first)', list, pager));
  const base = query(params);
  api('/query/logs', { params: { ...base, limit: PAGE, cursor: params.get('cursor') || undefined } }).then((page) => {
    const rows = page.events.map((e) => {
      const tr = h('tr', { class: 'log-row', 'data-id': e.id, 'data-service': e.service, 'data-level': e.level, title: 'click for template and context' },
        h('td', { class: 'nowrap' }, fmtTime(e.ts)), h('td', {}, e.host), h('td', {}, e.service), h('td', {}, badge(e.level)),
        h('td', { class: 'msg' }, e.message));
      let open = null;
      tr.addEventListener('click', () => { if (open) { open.remove(); open = null; } else open = detail(e, tr); });
      return tr;
    });
    replace(list, rows.length ? table(['time', 'host', 'service', 'level', 'message'], rows, { id: 'log-table' })
      : h('p', { class: 'muted', id: 'no-lines' }, 'No line matches these filters.'));
    const next = new URLSearchParams(location.search);
    const first = new URLSearchParams(location.search);
    first.delete('cursor');
    if (page.next_cursor) next.set('cursor', page.next_cursor);
    replace(pager, params.get('cursor') ? h('a', { href: `/ui/logs?${first}`, id: 'first-page' }, '« newest') : null, ' ',
      page.next_cursor ? h('a', { href: `/ui/logs?${next}`, id: 'next-page' }, 'older »') : null);
    // the histogram: the filters' window, or the hour up to the newest line shown
    const hist = { ...base };
    delete hist.cursor;
    if (!params.get('since') && page.events.length) {
      const newest = new Date(page.events[0].ts).getTime();
      hist.since = new Date(newest - 3600e3).toISOString();
      hist.until = params.get('until') || new Date(newest + 60e3).toISOString();
    }
    return api('/query/logs/histogram', { params: hist }).then((hg) => {
      histogram(chartBox, hg.buckets, { width: widthOf(chartBox) });
      chartNote.textContent = `${hg.total.toLocaleString('en')} lines from ${fmtTime(hg.since)} to ${fmtTime(hg.until)}, `
        + `${hg.step_s / 60} min a bar${hg.truncated ? ' (text filter: the newest 200,000 counted)' : ''}`;
    });
  }).catch((e) => replace(list, errorBox(e)));
}
