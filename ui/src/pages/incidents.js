// /ui/incidents?state=&status=&service=: the list, filters in the URL with the API's names.
import { api } from '../api.js';
import { badge, errorBox, fmtTime, h, replace, section, table } from '../dom.js';

const STATES = ['', 'open', 'acknowledged', 'snoozed', 'resolved'];
const STATUSES = ['', 'open', 'investigating', 'reported', 'closed'];

function select(name, values, current) {
  return h('select', { name }, values.map((v) => h('option', { value: v, selected: v === current }, v || `any ${name}`)));
}

export function mount(root, { params, navigate }) {
  const form = h('form', { class: 'filters', id: 'incident-filters', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    navigate(`/ui/incidents${q.toString() ? `?${q}` : ''}`);
  } }, select('state', STATES, params.get('state') || ''), select('status', STATUSES, params.get('status') || ''),
  h('input', { name: 'service', placeholder: 'service', value: params.get('service') || '' }),
  h('input', { name: 'since', placeholder: 'since (7d, ISO)', value: params.get('since') || '' }),
  h('button', { type: 'submit' }, 'Filter'));
  const box = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Incidents')), section('Filters', form), section('Incidents', box));
  const query = { limit: 200 };
  for (const k of ['state', 'status', 'service', 'since']) if (params.get(k)) query[k] = params.getAll(k);
  api('/incidents', { params: query }).then(({ incidents }) => {
    replace(box, incidents.length ? table(['#', 'title', 'severity', 'state', 'status', 'services', 'window', 'opened'],
      incidents.map((i) => h('tr', { class: 'incident-row', 'data-id': i.id },
        h('td', {}, h('a', { href: `/ui/incidents/${i.id}` }, `#${i.id}`)),
        h('td', {}, h('a', { href: `/ui/incidents/${i.id}` }, i.title)), h('td', {}, badge(i.severity)),
        h('td', {}, badge(i.state)), h('td', {}, badge(i.status)),
        h('td', {}, (i.services || []).join(', ') || i.service || 'whole fleet'),
        h('td', { class: 'muted' }, `${fmtTime(i.window_start)} .. ${fmtTime(i.window_end)}`),
        h('td', {}, fmtTime(i.opened_at)))), { id: 'incidents-table' })
      : h('p', { class: 'muted' }, 'No incident matches.'));
  }).catch((e) => replace(box, errorBox(e)));
}
