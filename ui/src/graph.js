// Topology pictures with cytoscape: nodes and edges from /graph/neighborhood (owned edges
// solid, inferred ones dashed with their confidence, the Kubernetes cluster's dotted), and an
// incident's blast radius.
import cytoscape from 'cytoscape';
import { graphs } from './registry.js';

const STYLE = [
  { selector: 'node', style: { label: 'data(label)', color: '#dbe4ee', 'font-size': 10, 'text-valign': 'bottom',
    'text-margin-y': 4, 'background-color': '#4f9dff', width: 18, height: 18 } },
  { selector: 'node[kind = "Host"]', style: { shape: 'round-rectangle', 'background-color': '#7f8ea3' } },
  { selector: 'node[kind = "Incident"]', style: { shape: 'diamond', 'background-color': '#ff5d5d' } },
  { selector: 'node[kind = "Runbook"]', style: { shape: 'tag', 'background-color': '#8bd17c' } },
  { selector: 'node.root', style: { 'background-color': '#ff5d5d', 'border-width': 3, 'border-color': '#fff' } },
  { selector: 'node.impacted', style: { 'background-color': '#ffb347' } },
  { selector: 'node.at-risk', style: { 'background-color': '#d7d75f' } },
  { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#fff' } },
  { selector: 'edge', style: { width: 1.5, 'line-color': '#5b6b80', 'target-arrow-color': '#5b6b80',
    'target-arrow-shape': 'triangle', 'curve-style': 'bezier', label: '', 'font-size': 9,
    color: '#9aa7b8', 'text-rotation': 'autorotate' } },
  { selector: 'edge[type = "RUNS_ON"]', style: { label: '', width: 1, 'line-color': '#39444f', 'target-arrow-color': '#39444f' } },
  { selector: 'edge[type = "CALLS"]', style: { 'line-color': '#5fd7d7', 'target-arrow-color': '#5fd7d7' } },
  { selector: 'edge[origin = "cluster"]', style: { 'line-style': 'dotted' } },
  { selector: 'edge[?inferred]', style: { label: 'data(label)', 'line-style': 'dashed', 'line-color': '#c792ea', 'target-arrow-color': '#c792ea' } },
];

export function drawGraph(container, elements, { layout = 'cose', onNode, onEdge } = {}) {
  const cy = cytoscape({ container, elements, style: STYLE, wheelSensitivity: 0.3, maxZoom: 1.8, minZoom: 0.2,
    layout: { name: layout, animate: false, padding: 20, nodeRepulsion: () => 8000,
      stop: () => container.setAttribute('data-laid-out', '') } });   // nodes in place: clickable
  if (onNode) cy.on('tap', 'node', (e) => onNode(e.target.data()));
  if (onEdge) cy.on('tap', 'edge', (e) => onEdge(e.target.data()));
  graphs.add(cy);
  return cy;
}

export const nodeId = (label, name) => `${label}:${name}`;

// /graph/neighborhood bodies -> cytoscape elements (nodes and edges deduplicated)
export function elementsOf(bodies, keep = () => true) {
  const nodes = new Map();
  const edges = new Map();
  for (const body of bodies) {
    for (const n of body.nodes || []) {
      if (keep(n.label)) nodes.set(nodeId(n.label, n.name), { data: { id: nodeId(n.label, n.name), label: String(n.name), kind: n.label, name: n.name } });
    }
    for (const e of body.edges || []) {
      const s = nodeId(e.source_label, e.source);
      const t = nodeId(e.target_label, e.target);
      if (!nodes.has(s) || !nodes.has(t)) continue;
      const id = `${s}->${e.type}->${t}`;
      const label = e.inferred ? `${e.type} ${e.confidence != null ? Number(e.confidence).toFixed(2) : ''}`.trim() : e.type;
      if (edges.has(id) && edges.get(id).data.owned) continue;      // the file's edge wins where both speak
      edges.set(id, { data: { id, source: s, target: t, label, type: e.type, inferred: !!e.inferred,
        owned: !!e.owned, origin: e.origin || (e.owned ? 'inventory' : e.inferred ? 'logs' : 'graph'),
        candidate: !!e.candidate, confidence: e.confidence, evidence: e.evidence || [], reason: e.reason || '' } });
    }
  }
  for (const e of edges.values()) {
    if (!nodes.has(e.data.source) || !nodes.has(e.data.target)) edges.delete(e.data.id);
  }
  return [...nodes.values(), ...edges.values()];
}
