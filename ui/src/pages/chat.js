// /ui/chat?thread_id=: the chat over POST /chat (Server-Sent Events): the route as soon as
// it is decided, each tool call as it starts and ends, the evidence, the streamed tokens,
// then the answer (markdown, rendered safely, citations linked). Threads are kept by the
// server; the thread id lives in the URL, so a reload or a pasted link shows its turns.
import { api, sse } from '../api.js';
import { badge, errorBox, h, replace, section } from '../dom.js';
import { cited, renderMarkdown } from '../markdown.js';

function turnView(question) {
  const events = h('ol', { class: 'events' });
  const stream = h('div', { class: 'stream', hidden: true });
  const answer = h('div', { class: 'answer' });
  const el = h('div', { class: 'turn' }, h('div', { class: 'question' }, question), events, stream, answer);
  return { el, events, stream, answer };
}

function eventLine(event, data) {
  if (event === 'route') {
    return h('li', { class: 'ev ev-route' }, badge('route'), ' ', h('strong', { class: 'route-name' }, data.route), ' ',
      h('span', { class: 'muted' }, JSON.stringify({ entities: data.entities, window: data.window })));
  }
  if (event === 'tool') {
    return h('li', { class: `ev ev-tool ev-tool-${data.status}` }, badge(`tool ${data.status}`, 'tool'), ' ', h('strong', {}, data.name),
      ' ', h('span', { class: 'muted' }, data.args ? JSON.stringify(data.args) : ''), data.outcome ? [' → ', badge(data.outcome)] : null,
      data.summary ? h('div', { class: 'muted' }, data.summary) : null);
  }
  if (event === 'evidence') {
    return h('li', { class: 'ev ev-evidence' }, badge('evidence'), h('ul', {}, (data.items || []).slice(0, 20).map((it) =>
      h('li', {}, h('code', {}, String(it.id).includes(':') ? `[${it.id}]` : `[${it.kind}:${it.id}]`), it.count != null ? ` ×${it.count} ` : ' ', h('span', { class: 'msg' }, it.text || '')))));
  }
  if (event === 'error') return h('li', { class: 'ev ev-error' }, badge('error'), ' ', `${data.code}: ${data.message}`);
  if (event === 'done') return h('li', { class: 'ev ev-done muted' }, `done in ${data.elapsed_ms} ms`);
  return null;
}

export function mount(root, { params }) {
  let thread = params.get('thread_id') || '';
  let controller = null;
  const log = h('div', { id: 'chat-log' });
  const box = h('textarea', { id: 'question', rows: 2, placeholder: 'e.g. errors on mariadb in the last hour · what changed since 14:00 · what depends on mariadb' });
  const ask = h('button', { type: 'submit', id: 'ask' }, 'Ask');
  const form = h('form', { id: 'chat-form', class: 'chat-form', onsubmit: (e) => { e.preventDefault(); run(box.value.trim()); } },
    box, ask, h('a', { href: '/ui/chat', class: 'button-like' }, 'New thread'));
  box.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Chat'), h('span', { class: 'muted', id: 'thread' }, thread ? `thread ${thread}` : 'new thread')),
    section('Conversation', log, form));

  if (thread) {
    api(`/chat/threads/${encodeURIComponent(thread)}`).then(({ turns }) => {
      for (const t of turns) {
        const view = turnView(t.question);
        view.events.append(h('li', { class: 'ev muted' }, badge('route'), ' ', t.route || ''));
        view.answer.append(renderMarkdown(t.answer));
        log.append(view.el);
      }
    }).catch((e) => log.append(errorBox(e)));
  }

  async function run(question) {
    if (!question) return;
    controller?.abort();
    controller = new AbortController();
    const view = turnView(question);
    log.append(view.el);
    box.value = '';
    ask.disabled = true;
    try {
      for await (const { event, data } of sse('/chat', thread ? { question, thread_id: thread } : { question }, controller.signal)) {
        if (event === 'token') {
          view.stream.hidden = false;
          view.stream.append(document.createTextNode(data.text || ''));
          continue;
        }
        if (event === 'answer') {
          view.stream.hidden = true;
          replace(view.answer, renderMarkdown(data.markdown));
          continue;
        }
        const line = eventLine(event, data);
        if (line) view.events.append(line);
        if (event === 'done' && data.thread_id && data.thread_id !== thread) {
          thread = data.thread_id;
          const q = new URLSearchParams(location.search);
          q.set('thread_id', thread);
          history.replaceState(null, '', `/ui/chat?${q}`);
          document.getElementById('thread').textContent = `thread ${thread}`;
        }
      }
    } catch (e) {
      if (e.name !== 'AbortError') view.answer.append(errorBox(e));
    } finally {
      ask.disabled = false;
    }
  }
  return () => controller?.abort();
}
