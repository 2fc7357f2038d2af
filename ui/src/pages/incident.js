// /ui/incidents/{id}: the ranked root cause with score parts and reasons, the report
// (markdown, rendered safely), error rates of the involved services with first-anomaly
// marks, the blast radius on a small graph, signals, metrics, runbooks; ack / snooze /
// resolve / re-investigate and feedback through the existing POST endpoints.
import { api } from '../api.js';
import { errorTimeline, widthOf } from '../charts.js';
import { badge, errorBox, fmtNum, fmtTime, h, replace, section, table } from '../dom.js';
import { cited, renderMarkdown } from '../markdown.js';

const POLL_MS = 2000;
const BUSY = new Set(['open', 'investigating']);       // its investigation is queued or running

function citeFor(incident) {
  const window = `since=${encodeURIComponent(incident.window_start)}&until=${encodeURIComponent(incident.window_end)}`;
  return (kind, id) => {
    if (kind === 'template') return `/ui/logs?template_id=${encodeURIComponent(id)}&${window}`;
    if (kind === 'event') return `/ui/events/${encodeURIComponent(id)}`;
    if (kind === 'incident') return `/ui/incidents/${encodeURIComponent(id)}`;
    return null;
  };
}

function parts(p) {
  return h('div', { class: 'parts' }, Object.entries(p || {}).map(([name, value]) =>
    h('span', { class: 'part', title: `${name} ${value}` }, h('span', { class: 'part-name' }, name),
      h('span', { class: 'part-bar' }, h('span', { class: 'part-fill', style: `width:${Math.max(0, Math.min(1, value)) * 100}%` })),
      h('span', { class: 'part-value' }, fmtNum(value)))));
}

function candidatesView(report, href) {
  return table(['#', 'candidate', 'score', 'score parts', 'reasons'], (report.candidates || []).map((c, k) =>
    h('tr', { class: 'candidate', 'data-service': c.service },
      h('td', {}, String(k + 1)), h('td', {}, h('strong', {}, c.service), c.host ? h('div', { class: 'muted' }, `on ${c.host}`) : null),
      h('td', { class: 'num' }, fmtNum(c.score)), h('td', {}, parts(c.parts)),
      h('td', {}, h('ul', { class: 'reasons' }, (c.reasons || []).map((r) => cited(r, href, 'li')))))), { id: 'candidates' });
}

function actions(incident, reload, say) {
  const act = (path, body) => api(`/incidents/${incident.id}/${path}`, { method: 'POST', body })
    .then(() => reload()).then(() => say(`${path}: done`)).catch((e) => say(`${path} failed: ${e.message}`, true));
  const minutes = h('select', { id: 'snooze-minutes', 'aria-label': 'snooze for' },
    [[30, '30 min'], [60, '1 h'], [240, '4 h'], [1440, '1 day']].map(([v, t]) => h('option', { value: v }, t)));
  return h('div', { class: 'actions', id: 'actions' },
    h('button', { id: 'ack', onclick: () => act('ack'), disabled: !['open', 'snoozed'].includes(incident.state) }, 'Acknowledge'),
    h('span', { class: 'group' }, h('button', { id: 'snooze', onclick: () => act('snooze', { minutes: Number(minutes.value) }),
      disabled: incident.state === 'resolved' }, 'Snooze'), minutes),
    h('button', { id: 'resolve', onclick: () => act('resolve'), disabled: incident.state === 'resolved' }, 'Resolve'),
    h('button', { id: 'reinvestigate', onclick: () => act('investigate'), disabled: BUSY.has(incident.status) }, 'Re-investigate'));
}

function lifecycle(incident) {
  const s = incident.state;
  const text = s === 'snoozed' ? `snoozed until ${fmtTime(incident.snoozed_until)} (then open again)`
    : s === 'resolved' ? `resolved ${fmtTime(incident.resolved_at)}${incident.resolved_by ? ` by ${incident.resolved_by}` : ''}`
      : s === 'acknowledged' ? `acknowledged ${fmtTime(incident.acknowledged_at)}` : 'open: nobody has acknowledged it yet';
  return h('p', { class: 'muted', id: 'lifecycle', 'data-state': s }, text);
}

function feedbackForm(incident, say) {
  const names = [...new Set([...(incident.report?.candidates || []).map((c) => c.service), ...(incident.services || [])])];
  const service = h('input', { name: 'root_cause_service', list: 'feedback-services', placeholder: 'the real root cause service' });
  const host = h('input', { name: 'root_cause_host', placeholder: 'host (optional)' });
  const comment = h('textarea', { name: 'comment', rows: 2, placeholder: 'comment (optional)' });
  const verdict = h('select', { name: 'verdict', id: 'verdict' }, [['accept', 'accept: the root cause is right'],
    ['partial', 'partial: close, not quite'], ['reject', 'reject: it was something else']].map(([v, t]) => h('option', { value: v }, t)));
  const form = h('form', { id: 'feedback-form', class: 'feedback', onsubmit: (e) => {
    e.preventDefault();
    const body = { verdict: verdict.value };
    if (service.value.trim()) body.root_cause_service = service.value.trim();
    if (host.value.trim()) body.root_cause_host = host.value.trim();
    if (comment.value.trim()) body.comment = comment.value.trim();
    if (body.verdict === 'reject' && !body.root_cause_service) { say('a rejection names the real root cause service', true); return; }
    api(`/incidents/${incident.id}/feedback`, { method: 'POST', body })
      .then((r) => { say(`feedback #${r.id} recorded, thank you`); form.reset(); })
      .catch((err) => say(`feedback failed: ${err.message}`, true));
  } }, verdict, service, h('datalist', { id: 'feedback-services' }, names.map((n) => h('option', { value: n }))), host, comment,
  h('button', { type: 'submit' }, 'Send feedback'));
  return form;
}

function timelineView(incident, report, box) {
  const services = [...new Set([report.root_cause_service, ...(report.impacted_services || []),
    ...(report.candidates || []).slice(0, 4).map((c) => c.service)].filter(Boolean))].slice(0, 6);
  const start = new Date(new Date(incident.window_start).getTime() - 30 * 60e3).toISOString();
  const end = new Date(new Date(incident.window_end).getTime() + 10 * 60e3).toISOString();
  api('/stats/services', { params: { since: start, until: end, step: '1m' } }).then((stats) => {
    const series = services.map((name) => ({ name, values: stats.services.find((s) => s.service === name)?.errors || stats.buckets.map(() => 0) }));
    const marks = (report.timeline || []).filter((e) => e.kind === 'anomaly_onset')
      .map((e) => ({ at: e.at || e.ts, service: e.service }));
    const chart = h('div', { class: 'chart', id: 'incident-chart' });
    replace(box, chart, h('p', { class: 'muted' }, 'errors per minute; dashed lines: each service\'s first anomalous minute'));
    errorTimeline(chart, stats.buckets, series, marks, { width: widthOf(box) });
  }).catch((e) => replace(box, errorBox(e)));
}

function timelineList(report, href) {
  const rows = (report.timeline || []).slice(0, 60);
  if (!rows.length) return h('p', { class: 'muted' }, 'No timeline.');
  return h('ul', { class: 'timeline', id: 'timeline' }, rows.map((e) => h('li', {},
    h('span', { class: 'muted' }, fmtTime(e.at || e.ts)), ' ', h('strong', {}, e.service || ''), ' ',
    cited(e.text ?? e.message ?? JSON.stringify(e), href))));
}

async function blastRadius(report, box) {
  const root = report.root_cause_service;
  if (!root) return replace(box, h('p', { class: 'muted' }, 'No root cause named.'));
  const impacted = report.impacted_services || [];
  const atRisk = report.at_risk_services || [];
  const node = (name, cls) => ({ data: { id: name, label: name, kind: 'Service' }, classes: cls });
  const elements = [node(root, 'root'), ...impacted.filter((n) => n !== root).map((n) => node(n, 'impacted')),
    ...atRisk.filter((n) => n !== root && !impacted.includes(n)).map((n) => node(n, 'at-risk')),
    ...[...impacted, ...atRisk].filter((n) => n !== root).map((n) => ({ data: { id: `${root}->${n}`, source: root, target: n, label: '' } }))];
  const el = h('div', { class: 'cy small', id: 'blast-graph' });
  replace(box, el, h('p', { class: 'muted' }, 'red: root cause · orange: impacted (anomalous downstream) · yellow: at risk'));
  const { drawGraph } = await import('../graph.js');          // cytoscape, loaded when a page draws a graph
  if (el.isConnected) drawGraph(el, elements, { layout: 'breadthfirst' });
}

export function mount(root, { match }) {
  const id = match[1];
  let timer = null;
  let stopped = false;
  let feedback = null;           // made once: a redraw while polling keeps what the person typed
  const note = h('div', { id: 'notice', class: 'notice', hidden: true });
  const say = (text, bad = false) => { note.hidden = false; note.className = bad ? 'notice bad' : 'notice'; note.textContent = text; };

  async function load() {
    clearTimeout(timer);
    let incident;
    try {
      incident = await api(`/incidents/${id}`);
    } catch (e) {
      if (!stopped) replace(root, errorBox(e));
      return;
    }
    if (stopped) return;
    const report = incident.report;
    const href = citeFor(incident);
    const chartBox = h('div', {});
    const graphBox = h('div', {});
    replace(root,
      h('div', { class: 'page-head' }, h('h1', { id: 'incident-title' }, `#${incident.id} `, incident.title),
        badge(incident.severity), ' ', badge(incident.state), ' ', badge(incident.status)),
      h('p', { class: 'muted' }, `window ${fmtTime(incident.window_start)} .. ${fmtTime(incident.window_end)} · trigger ${incident.trigger}`,
        ` · services ${(incident.services || []).join(', ') || incident.service || 'whole fleet'}`),
      lifecycle(incident), note, actions(incident, load, say),
      report ? [
        BUSY.has(incident.status) ? h('p', { class: 'notice', id: 'reinvestigating' },
          `Being investigated again (${incident.status}): the report below stands until the new one is written.`) : null,
        section('Root cause', h('div', { id: 'root-cause', class: 'root-cause-box' },
          h('div', { class: 'big' }, report.root_cause_service || 'none named', report.root_cause_host ? ` on ${report.root_cause_host}` : ''),
          h('div', {}, `confidence ${fmtNum(report.confidence)}`, report.written_by ? ` · written by ${report.written_by}` : ''),
          cited(report.root_cause_hypothesis, href, 'p'))),
        section('Ranked candidates', candidatesView(report, href)),
        section('Error rates of the involved services', chartBox),
        section('Blast radius', h('div', { class: 'two' }, graphBox, h('div', {},
          h('p', {}, h('strong', {}, 'impacted: '), (report.impacted_services || []).join(', ') || 'none'),
          h('p', {}, h('strong', {}, 'at risk: '), (report.at_risk_services || []).join(', ') || 'none')))),
        section('Timeline', timelineList(report, href)),
        (report.suggested_actions || []).length ? section('Suggested actions', h('ul', {}, report.suggested_actions.map((a) =>
          cited(typeof a === 'string' ? a : a.text || JSON.stringify(a), href, 'li')))) : null,
        (report.related_runbooks || []).length ? section('Runbooks', h('ul', { id: 'runbooks' }, report.related_runbooks.map((r) =>
          h('li', {}, typeof r === 'string' ? r : `${r.title || r.id}${r.path ? ` (${r.path})` : ''}`)))) : null,
        report.metrics?.snapshots?.length ? section('Metric snapshots (Prometheus)', table(['service', 'metric', 'mean', 'max', 'mean before'],
          report.metrics.snapshots.map((m) => h('tr', {}, h('td', {}, m.service || ''), h('td', {}, m.name || ''),
            h('td', { class: 'num' }, fmtNum(m.mean)), h('td', { class: 'num' }, fmtNum(m.max)),
            h('td', { class: 'num' }, fmtNum(m.prev_mean)))), { id: 'metrics' })) : null,
        section('Report', h('p', { class: 'muted', id: 'report-meta', 'data-report-id': report.id },
          `report #${report.id} written ${fmtTime(report.created_at)}`), h('div', { id: 'report' }, renderMarkdown(report.markdown, href))),
      ] : section('Report', h('p', { class: 'muted', id: 'no-report' }, `No report yet (${incident.status}); this page refreshes until it is written.`)),
      section('Signals', incident.signals?.length ? table(['at', 'detector', 'service', 'severity', 'message'], incident.signals.map((s) =>
        h('tr', {}, h('td', {}, fmtTime(s.at)), h('td', {}, s.detector), h('td', {}, s.service), h('td', {}, badge(s.severity)),
          h('td', {}, cited(s.message, href))))) : h('p', { class: 'muted' }, 'No detector signals (opened by hand or by an alert).')),
      section('Feedback', feedback ??= feedbackForm(incident, say)));
    if (report) {
      timelineView(incident, report, chartBox);
      blastRadius(report, graphBox);
    }
    if ((!report || BUSY.has(incident.status)) && !stopped) timer = setTimeout(load, POLL_MS);   // until it is written
  }
  load();
  return () => { stopped = true; clearTimeout(timer); };
}
