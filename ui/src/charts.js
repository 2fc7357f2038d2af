// Time series with uPlot (sparklines, a bar histogram, an incident's error rates with its
// first-anomaly marks). Every chart is made by uPlot; we only pass data and options.
import uPlot from 'uplot';

const charts = new Set();

export function destroyCharts() {
  for (const c of charts) c.destroy();
  charts.clear();
}

function make(opts, data, el) {
  const chart = new uPlot(opts, data, el);
  charts.add(chart);
  return chart;
}

const secs = (iso) => new Date(iso).getTime() / 1000;

// lines and errors per step: a grey line and a red one, no axes
export function sparkline(el, buckets, lines, errors, { width = 160, height = 32 } = {}) {
  return make({
    width, height, class: 'spark', legend: { show: false }, cursor: { show: false }, select: { show: false },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: '#7f8ea3', width: 1, points: { show: false } },
      { stroke: '#ff5d5d', width: 1.5, fill: 'rgba(255,93,93,0.15)', points: { show: false } }],
  }, [buckets.map(secs), lines, errors], el);
}

const axis = { stroke: '#9aa7b8', grid: { stroke: '#2a3340', width: 1 }, ticks: { stroke: '#2a3340' } };

// counts per step as bars (the log explorer's histogram)
export function histogram(el, buckets, { width = 900, height = 140 } = {}) {
  return make({
    width, height, legend: { show: false }, cursor: { points: { show: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [axis, { ...axis, size: 40 }],
    series: [{}, { label: 'lines', stroke: '#4f9dff', fill: 'rgba(79,157,255,0.55)', width: 0,
      paths: uPlot.paths.bars({ size: [0.9, 40] }), points: { show: false } }],
  }, [buckets.map((b) => secs(b.t)), buckets.map((b) => b.count)], el);
}

const PALETTE = ['#ff5d5d', '#ffb347', '#4f9dff', '#8bd17c', '#c792ea', '#5fd7d7', '#f78fb3', '#d7d75f'];

// errors per step of several services, with a dashed vertical mark at each first anomaly
export function errorTimeline(el, buckets, series, marks = [], { width = 900, height = 220 } = {}) {
  const x = buckets.map(secs);
  const markPlugin = {
    hooks: {
      draw: [(u) => {
        const { ctx } = u;
        ctx.save();
        ctx.setLineDash([4, 4]);
        ctx.lineWidth = 1;
        for (const m of marks) {
          const px = u.valToPos(secs(m.at), 'x', true);
          if (!Number.isFinite(px)) continue;
          ctx.strokeStyle = PALETTE[series.findIndex((s) => s.name === m.service) % PALETTE.length] || '#fff';
          ctx.beginPath();
          ctx.moveTo(px, u.bbox.top);
          ctx.lineTo(px, u.bbox.top + u.bbox.height);
          ctx.stroke();
        }
        ctx.restore();
      }],
    },
  };
  return make({
    width, height, plugins: [markPlugin],
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [axis, { ...axis, size: 40, label: 'errors / step' }],
    series: [{}, ...series.map((s, i) => ({ label: s.name, stroke: PALETTE[i % PALETTE.length], width: 1.5,
      points: { show: false } }))],
  }, [x, ...series.map((s) => s.values)], el);
}

export function widthOf(el, fallback = 900) {
  return Math.max(200, Math.floor((el.clientWidth || el.parentElement?.clientWidth || fallback) - 8));
}
