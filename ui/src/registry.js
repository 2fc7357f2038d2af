// Live cytoscape instances, destroyed on navigation (kept apart from graph.js so the
// first page does not load cytoscape: graph.js is imported on demand).
export const graphs = new Set();

export function destroyGraphs() {
  for (const g of graphs) g.destroy();
  graphs.clear();
}
