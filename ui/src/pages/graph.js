// /ui/graph?node=&depth=: the topology from FalkorDB (every service's neighbourhood, or one
// node's), owned edges solid, inferred ones dashed with their confidence, the Kubernetes
// cluster's dotted; a click on a node shows its recent errors and its blast radius, a click
// on an edge where it comes from (inventory.yaml; the Kubernetes cluster: candidate,
// confidence, reason; or learned from logs: confidence, reason, the evidence templates).
import { api } from '../api.js';
import { badge, errorBox, fmtNum, fmtTime, h, replace, section } from '../dom.js';

const SHOWN = new Set(['Service', 'Host']);

const SEVERE = 'error,critical,alert,emergency';

function services(id, list, note) {
  return list.length ? h('ul', { id, class: 'impact-list' }, list.map((x) => h('li', { 'data-service': x.service },
    h('a', { href: `/ui/graph?node=${encodeURIComponent(x.service)}` }, x.service), h('span', { class: 'muted' }, ` ${note(x)}`))))
    : h('p', { class: 'muted', id }, 'none');
}

function impactView(impact) {
  return h('div', { id: 'node-impact' },
    h('h4', {}, `impact: ${impact.downstream.length} service(s) depend on it`),
    services('impact-downstream', impact.downstream, (x) => `${x.hops} hop${x.hops === 1 ? '' : 's'} away`),
    h('h4', {}, 'it depends on'), services('impact-upstream', impact.upstream, (x) => `${x.hops} hop${x.hops === 1 ? '' : 's'}`),
    h('h4', {}, 'shares a host with'), services('impact-cohosted', impact.co_hosted, (x) => `on ${x.host}`));
}

function side(panel, data) {
  const name = data.name;
  const title = () => h('h3', { id: 'node-title', 'data-kind': data.kind, 'data-name': name }, `${data.kind} ${name}`);
  replace(panel, title(), h('p', { class: 'muted' }, 'Loading…'));
  const field = data.kind === 'Host' ? 'host' : 'service';
  Promise.allSettled([
    api('/query/logs', { params: { [field]: name, level: SEVERE, limit: 10 } }),
    data.kind === 'Service' ? api('/graph/impact', { params: { service: name } }) : Promise.resolve(null),
  ]).then(([errors, impact]) => {
    if (!panel.isConnected || panel.querySelector('#node-title')?.dataset.name !== String(name)) return;   // another node since
    const list = errors.status === 'fulfilled' ? errors.value.events : [];
    replace(panel, title(),
      h('p', {}, h('a', { href: `/ui/logs?${field}=${encodeURIComponent(name)}&level=${SEVERE}` }, 'its errors in the log explorer')),
      impact.status === 'rejected' ? errorBox(impact.reason) : (impact.value ? impactView(impact.value) : null),
      h('h4', {}, 'recent errors (newest 10)'), errors.status === 'rejected' ? errorBox(errors.reason) : (list.length
        ? h('div', { class: 'context', id: 'node-errors' }, list.map((e) => h('div', { class: 'ctx-line', 'data-id': e.id },
          h('a', { href: `/ui/events/${e.id}`, class: 'muted' }, fmtTime(e.ts)), ' ', badge(e.level), ' ', h('span', { class: 'msg' }, e.message))))
        : h('p', { class: 'muted', id: 'node-errors' }, 'none stored')));
  });
}

function edgeSide(panel, d) {
  const [source, target] = [d.source, d.target].map((id) => id.replace(/^[A-Za-z]+:/, ''));
  const evidence = h('ul', { id: 'edge-evidence' }, d.evidence.map((id) => h('li', { 'data-id': id },
    h('a', { href: `/ui/templates/${encodeURIComponent(id)}` }, `[template:${id}]`), ' ', h('code', { class: 'template-text' }, ''))));
  replace(panel, h('h3', { id: 'edge-title', 'data-source': source, 'data-target': target }, `${source} ${d.type} ${target}`),
    d.inferred ? h('div', { id: 'edge-origin', 'data-inferred': '' },
      h('p', {}, badge('inferred'), ` learned from logs · confidence ${fmtNum(d.confidence)}`),
      d.reason ? h('p', { id: 'edge-reason' }, d.reason) : null,
      h('h4', {}, 'evidence'), d.evidence.length ? evidence : h('p', { class: 'muted' }, 'no templates recorded'))
      : d.origin === 'cluster' ? h('div', { id: 'edge-origin', 'data-cluster': '' },
        h('p', {}, badge('cluster'), ' from the Kubernetes cluster', d.candidate ? ` · a candidate · confidence ${fmtNum(d.confidence)}` : ''),
        d.reason ? h('p', { id: 'edge-reason' }, d.reason) : null)
      : h('p', { id: 'edge-origin' }, badge('owned'), d.owned ? ' from inventory.yaml' : ' from the graph'));
  for (const li of evidence.children) {            // the templates' text, each as text
    api(`/templates/${encodeURIComponent(li.dataset.id)}`, { params: { examples: 0 } })
      .then((t) => { li.querySelector('code').textContent = t.template; }).catch(() => {});
  }
}

export function mount(root, { params, navigate }) {
  const node = params.get('node');
  const depth = params.get('depth') || (node ? 2 : 1);
  const canvas = h('div', { class: 'cy', id: 'topology' });
  const panel = h('div', { class: 'side', id: 'node-panel' }, h('p', { class: 'muted' }, 'Click a node.'));
  const input = h('input', { name: 'node', placeholder: 'service or host', value: node || '' });
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Topology')),
    section('Graph', h('form', { class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      navigate(input.value.trim() ? `/ui/graph?node=${encodeURIComponent(input.value.trim())}&depth=${depth}` : '/ui/graph');
    } }, input, h('button', { type: 'submit' }, 'Focus'), h('span', { class: 'muted' }, ' solid: inventory.yaml · dashed: learned from logs (confidence) · dotted: the Kubernetes cluster · click a node or an edge')),
    h('div', { class: 'two' }, canvas, panel)));
  const bodies = node ? api('/graph/neighborhood', { params: { node, depth } }).then((b) => [b])
    : api('/graph/services').then(({ services }) => Promise.all(services.map((s) =>
      api('/graph/neighborhood', { params: { node: s.name ?? s.service ?? s, depth: 1 } }).catch(() => ({ nodes: [], edges: [] })))));
  Promise.all([bodies, import('../graph.js')]).then(([list, { drawGraph, elementsOf }]) => {
    const elements = elementsOf(list, (label) => SHOWN.has(label));
    if (!elements.length) return replace(canvas, h('p', { class: 'muted' }, 'The graph is empty: load an inventory (devmesh load-inventory).'));
    drawGraph(canvas, elements, { onNode: (d) => side(panel, d), onEdge: (d) => edgeSide(panel, d) });
  }).catch((e) => replace(canvas, errorBox(e)));
}
