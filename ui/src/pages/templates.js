// /ui/templates?q=&mode=&service=: search templates by meaning (GET /search/templates) or
// by text (mode=text: GET /templates);
// /ui/templates/{id}: one template, its counts over the last day, services, first/last
// seen, example lines and the templates nearest to it.
import { api } from '../api.js';
import { histogram, widthOf } from '../charts.js';
import { badge, errorBox, fmtNum, fmtTime, h, replace, section, table } from '../dom.js';

function results(list, byText = false) {
  const head = ['template', 'level', 'count', 'services', byText ? 'last seen' : 'similarity'];
  return list.length ? table(head, list.map((t) => h('tr', { class: 'template-row', 'data-id': t.id ?? t.template_id },
    h('td', {}, h('a', { href: `/ui/templates/${t.id ?? t.template_id}` }, h('code', { class: 'template-text' }, t.template))),
    h('td', {}, badge(t.level || '')), h('td', { class: 'num' }, fmtNum(t.count ?? t.total_count)),
    h('td', {}, (t.services || []).join(', ')),
    h('td', { class: byText ? '' : 'num' }, byText ? fmtTime(t.last_seen) : fmtNum(t.similarity)))), { id: 'template-results' })
    : h('p', { class: 'muted', id: 'no-templates' }, 'No template found.');
}

// mode=text: every word in the template text (GET /templates, busiest first; no words: the
// busiest of all); otherwise by meaning (GET /search/templates, nearest first).
function search(root, params, navigate) {
  const byText = params.get('mode') === 'text';
  const q = h('input', { name: 'q', id: 't-q', placeholder: byText ? 'words in the template' : 'a log line or words',
    value: params.get('q') || '', size: 50 });
  const mode = h('select', { name: 'mode', id: 't-mode', 'aria-label': 'search by' },
    [['', 'by meaning'], ['text', 'by text (all words)']].map(([v, t]) => h('option', { value: v, selected: v === (byText ? 'text' : '') }, t)));
  const service = h('input', { name: 'service', id: 't-service', placeholder: 'service', value: params.get('service') || '' });
  const box = h('div');
  const note = h('p', { class: 'muted', id: 'template-note' });
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Templates')), section('Search', h('form', { class: 'filters', id: 'template-search', onsubmit: (e) => {
    e.preventDefault();
    const s = new URLSearchParams();
    if (q.value.trim()) s.set('q', q.value.trim());
    if (mode.value) s.set('mode', mode.value);
    if (service.value.trim()) s.set('service', service.value.trim());
    navigate(`/ui/templates?${s}`);
  } }, q, mode, service, h('button', { type: 'submit' }, 'Search'))), section('Results', note, box));
  const shown = (r) => replace(box, results(r.templates, byText));
  if (byText) {
    note.textContent = params.get('q') ? 'Templates holding every word, busiest first (variables are masked: <NUM>, <IP>, …).'
      : 'The busiest templates.';
    return api('/templates', { params: { q: params.get('q') || undefined, service: params.get('service') || undefined, k: 25 } })
      .then((r) => { shown(r); if (r.truncated) note.append(' More match than shown: add words.'); })
      .catch((e) => replace(box, errorBox(e)));
  }
  if (!params.get('q')) return replace(box, h('p', { class: 'muted' }, 'Search by meaning: paste a log line or type words (or search by text).'));
  api('/search/templates', { params: { q: params.get('q'), service: params.get('service') || undefined, k: 25 } })
    .then(shown).catch((e) => replace(box, errorBox(e)));
}

function one(root, id) {
  api(`/templates/${id}`, { params: { examples: 10 } }).then((t) => {
    const chart = h('div', { class: 'chart', id: 'template-chart' });
    const similar = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
    root.append(h('div', { class: 'page-head' }, h('h1', {}, `Template ${t.id}`)),
      section('Template', h('code', { class: 'template-text big', id: 'template-text' }, t.template),
        h('p', {}, badge(t.level || ''), ` ${fmtNum(t.total_count)} lines · first ${fmtTime(t.first_seen)} · last ${fmtTime(t.last_seen)}`),
        h('p', {}, 'services: ', (t.services || []).map((s) => h('a', { href: `/ui/logs?service=${encodeURIComponent(s)}&template_id=${t.id}` }, s, ' '))),
        h('p', {}, h('a', { href: `/ui/logs?template_id=${t.id}` }, 'all its lines in the log explorer'))),
      section('Lines per step (the day up to its last line)', chart),
      section('Example lines', h('div', { class: 'context' }, (t.examples || []).map((e) => h('div', { class: 'ctx-line' },
        h('a', { href: `/ui/events/${e.id}`, class: 'muted' }, fmtTime(e.ts)), ' ', e.host || '', ' ', h('span', { class: 'msg' }, e.message))))),
      section('Similar templates', similar));
    const last = t.last_seen ? new Date(t.last_seen) : new Date();
    api('/query/logs/histogram', { params: { template_id: t.id, since: new Date(last - 864e5).toISOString(), until: new Date(last.getTime() + 60e3).toISOString(), step: '15m' } })
      .then((hg) => histogram(chart, hg.buckets, { width: widthOf(chart) })).catch((e) => chart.append(errorBox(e)));
    api('/search/templates', { params: { q: t.template, k: 8 } })
      .then((r) => replace(similar, results(r.templates.filter((x) => String(x.id ?? x.template_id) !== String(t.id)))))
      .catch((e) => replace(similar, errorBox(e)));
  }).catch((e) => replace(root, errorBox(e)));
}

export function mount(root, { params, match, navigate }) {
  if (match[1]) one(root, match[1]);
  else search(root, params, navigate);
}
