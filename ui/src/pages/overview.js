// /ui: services with health and a sparkline, open incidents with their ranked root cause,
// ingest / templates / embedding lag / detector state; polled every 10 s.
import { api } from '../api.js';
import { destroyCharts, sparkline } from '../charts.js';
import { badge, errorBox, fmtNum, fmtTime, h, replace, section, table } from '../dom.js';

const REFRESH_MS = 10_000;
const OPEN = ['open', 'acknowledged'];

async function rootCauses(list) {
  return Promise.all(list.slice(0, 10).map((i) => api(`/incidents/${i.id}`).catch(() => i)));
}

function incidentsView(list) {
  if (!list.length) return h('p', { class: 'muted', id: 'no-incidents' }, 'No open incidents.');
  return table(['#', 'incident', 'severity', 'state', 'root cause (ranked)', 'opened'], list.map((i) => {
    const r = i.report;
    const ranked = r && r.candidates ? r.candidates.slice(0, 3) : [];
    return h('tr', { class: 'incident-row', 'data-id': i.id },
      h('td', {}, h('a', { href: `/ui/incidents/${i.id}` }, `#${i.id}`)),
      h('td', {}, h('a', { href: `/ui/incidents/${i.id}` }, i.title)),
      h('td', {}, badge(i.severity)), h('td', {}, badge(i.state), ' ', badge(i.status)),
      h('td', { class: 'root-cause' }, ranked.length ? ranked.map((c, k) => h('span', { class: k ? 'muted' : 'strong' },
        `${k + 1}. ${c.service}${c.host ? ` on ${c.host}` : ''} (${fmtNum(c.score)})`, k < ranked.length - 1 ? '  ' : ''))
        : h('span', { class: 'muted' }, i.status === 'reported' ? 'no candidate' : 'investigating…')),
      h('td', {}, fmtTime(i.opened_at)));
  }), { id: 'incidents-table' });
}

function servicesView(stats, open) {
  const involved = new Set(open.flatMap((i) => [i.service, ...(i.services || []), i.report?.root_cause_service]));
  const rows = stats.services.map((s) => {
    const cell = h('td', { class: 'spark-cell' });
    const health = involved.has(s.service) ? 'incident' : s.health;
    return [h('tr', { class: 'service-row', 'data-service': s.service },
      h('td', {}, h('a', { href: `/ui/logs?service=${encodeURIComponent(s.service)}&since=3h` }, s.service),
        s.in_inventory ? null : h('span', { class: 'muted', title: 'logged, but not in inventory.yaml' }, ' (not in inventory)')),
      h('td', {}, badge(health)),
      h('td', { class: 'num' }, fmtNum(s.errors_per_step_now), ' vs ', fmtNum(s.errors_per_step_baseline)),
      h('td', { class: 'num' }, fmtNum(s.lines_per_step_now)), cell), [cell, s]];
  });
  const step = `${Math.round(stats.step_s / 60)} min`;
  const el = table(['service', 'health', `errors / ${step}: now vs before`, `lines / ${step} now`, 'last 3 h (lines, errors)'],
    rows.map(([tr]) => tr), { id: 'services-table' });
  return [el, () => rows.forEach(([, [cell, s]]) => sparkline(cell, stats.buckets, s.lines, s.errors))];
}

function stateView(info, health, stats) {
  const full = stats.buckets.length > 1 ? -2 : -1;             // the last complete step
  const last = stats.services.reduce((n, s) => n + (s.lines.at(full) || 0), 0);
  const deps = health?.dependencies || {};
  const detectors = info.detectors || {};
  const last_ = detectors.last;
  const cards = [
    ['ingest', `${fmtNum(last / (stats.step_s / 60), 1)} lines/min`, 'last complete step, all services'],
    ['events', fmtNum(info.counts?.events), info.counts?.events_exact ? 'stored' : 'stored (estimate)'],
    ['templates', fmtNum(info.counts?.templates), 'seen'],
    ['embedding lag', fmtNum(info.embedder?.queue_depth ?? 0), `queued · ${info.embedder?.name || ''}`],
    ['detectors', detectors.error ? 'error' : (!last_ ? 'no cycle yet' : (last_.ran ? 'leading' : 'standby')),
      detectors.error || (!last_ ? 'none since start (or DEVMESH_DETECT_INTERVAL_S=0)' : (last_.ran
        ? `last cycle: ${last_.minutes} min read, ${last_.opened.length} opened, ${last_.held} held`
        : 'another server holds the detector lock'))],
    ['MariaDB', deps.mariadb?.status || '?', deps.mariadb?.version || deps.mariadb?.error || ''],
    ['FalkorDB', deps.falkordb?.status || '?', deps.falkordb?.error || ''],
    ['LLM', deps.llm?.status || info.llm?.status || 'off', deps.llm?.model || ''],
  ];
  return h('div', { class: 'stat-grid', id: 'state' }, cards.map(([name, value, note]) =>
    h('div', { class: 'stat', 'data-name': name }, h('div', { class: 'stat-name' }, name),
      h('div', { class: 'stat-value' }, String(value)), h('div', { class: 'stat-note muted' }, typeof note === 'string' ? note : JSON.stringify(note)))));
}

export function mount(root) {
  const status = h('span', { class: 'muted', id: 'updated' });
  const stateBox = h('div');
  const servicesBox = h('div', {}, h('p', { class: 'muted' }, 'Loading services…'));
  const incidentsBox = h('div', {}, h('p', { class: 'muted' }, 'Loading incidents…'));
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Overview'), status),
    section('Open incidents', incidentsBox), section('Services', servicesBox), section('Ingest and detectors', stateBox));
  let stopped = false;
  const shown = {};
  const changed = (key, value) => {
    const text = JSON.stringify(value, (k, v) => (k === 'uptime_s' || k === 'latency_ms' ? undefined : v));
    if (shown[key] === text) return false;
    shown[key] = text;
    return true;
  };

  // each section draws as soon as its own calls answer (the slowest never holds the others)
  let open = [];
  let statsShown = null;
  function drawServices(stats) {
    if (!changed('services', [stats, open.map((i) => [i.service, i.services, i.report?.root_cause_service])])) return;
    destroyCharts();
    const [el, draw] = servicesView(stats, open);
    replace(servicesBox, stats.services.length ? el : h('p', { class: 'muted' }, 'No services yet: load an inventory or send logs.'));
    draw();
  }
  async function refresh() {
    const incidents = api('/incidents', { params: { state: OPEN, limit: 50 } }).then(({ incidents: list }) => rootCauses(list))
      .then((list) => {
        if (stopped) return;
        open = list;
        if (changed('incidents', list)) replace(incidentsBox, incidentsView(list));
        if (statsShown) drawServices(statsShown);              // an incident marks its services
      }).catch((e) => { if (!stopped && changed('incidents', String(e))) replace(incidentsBox, errorBox(e)); });
    const stats = api('/stats/services', { params: { since: '3h', step: '5m' } }).then((value) => {
      if (stopped) return null;
      statsShown = value;
      drawServices(value);
      return value;
    }).catch((e) => { if (!stopped && changed('services', String(e))) replace(servicesBox, errorBox(e)); return null; });
    // /info and /health after the rates: the services are what a person looks at first
    const state = stats.then((value) => Promise.all([api('/info'),
      api('/health').catch((e) => (e.status === 503 ? null : Promise.reject(e))), value]))
      .then(([info, health, value]) => {
        if (stopped || !value) return;
        if (changed('state', [info, health, value.services.map((x) => x.lines.at(-2))])) replace(stateBox, stateView(info, health, value));
      }).catch((e) => { if (!stopped && changed('state', String(e))) replace(stateBox, errorBox(e)); });
    await Promise.allSettled([incidents, stats, state]);
    if (!stopped) status.textContent = `updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
  }
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}
