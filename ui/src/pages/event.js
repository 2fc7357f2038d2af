// /ui/events/{id}: a cited line ([event:ID]), its template, and the lines before and after
// it on its host and on its service (GET /events/{id}).
import { api } from '../api.js';
import { badge, errorBox, fmtTime, h, replace, section } from '../dom.js';

function line(e, id) {
  return h('div', { class: String(e.id) === String(id) ? 'ctx-line this' : 'ctx-line', 'data-id': e.id },
    h('span', { class: 'muted' }, fmtTime(e.ts)), ' ', h('span', {}, e.host), ' ', h('span', {}, e.service), ' ', badge(e.level), ' ',
    h('span', { class: 'msg' }, e.message));
}

export function mount(root, { match, params }) {
  const id = match[1];
  const context = params.get('context') || 5;
  api(`/events/${id}`, { params: { context } }).then((d) => {
    const e = d.event;
    const around = (n) => h('div', { class: 'context' }, n.before.map((x) => line(x, id)), line(e, id), n.after.map((x) => line(x, id)));
    root.append(h('div', { class: 'page-head' }, h('h1', {}, `Event ${e.id}`)),
      section('The line', h('div', { id: 'event-line' }, line(e, id)),
        h('p', {}, h('strong', {}, 'template '), d.template
          ? [h('a', { href: `/ui/templates/${d.template.id}` }, String(d.template.id)), ' ', h('code', { class: 'template-text' }, d.template.template)] : 'unknown'),
        h('p', {}, h('a', { href: `/ui/logs?service=${encodeURIComponent(e.service)}&until=${encodeURIComponent(e.ts)}` }, 'open the log explorer here'))),
      section(`On its host (${e.host})`, around(d.neighbours.host)),
      section(`On its service (${e.service})`, around(d.neighbours.service)));
  }).catch((err) => replace(root, errorBox(err)));
}
