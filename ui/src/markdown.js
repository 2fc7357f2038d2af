// Markdown from reports and answers: marked renders it, raw HTML in it is shown as text
// (log lines and templates such as `refused <IP>:<NUM>` are text, not tags), DOMPurify
// cleans what is left, and [template:ID] / [event:ID] / [incident:ID] citations become links.
import { Marked } from 'marked';
import DOMPurify from 'dompurify';
import { h } from './dom.js';

const escape = (s) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

const marked = new Marked({ gfm: true, breaks: false });
marked.use({ renderer: { html(token) { return escape(token.text ?? token.raw ?? ''); } } });

const CITE = /\[(template|event|incident|runbook):([A-Za-z0-9_.-]+)\]/g;

// hrefFor(kind, id) -> a /ui/... URL, or null to leave the citation as text
export function defaultHref(kind, id) {
  if (kind === 'template') return `/ui/logs?template_id=${encodeURIComponent(id)}`;
  if (kind === 'event') return `/ui/events/${encodeURIComponent(id)}`;
  if (kind === 'incident') return `/ui/incidents/${encodeURIComponent(id)}`;
  return null;
}

export function linkCitations(root, hrefFor = defaultHref) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    if (!text.includes('[') || node.parentElement?.closest('a')) continue;
    const parts = [];
    let last = 0;
    for (const m of text.matchAll(CITE)) {
      const href = hrefFor(m[1], m[2]);
      if (!href) continue;
      parts.push(text.slice(last, m.index),
        h('a', { href, class: 'cite', 'data-kind': m[1], 'data-id': m[2], title: `open ${m[1]} ${m[2]}` }, m[0]));
      last = m.index + m[0].length;
    }
    if (!parts.length) continue;
    parts.push(text.slice(last));
    node.replaceWith(...parts.filter((p) => p !== ''));
  }
  return root;
}

// plain text (a candidate's reason, a log line) with its citations linked
export function cited(text, hrefFor = defaultHref, tag = 'span') {
  return linkCitations(h(tag, {}, text ?? ''), hrefFor);
}

export function renderMarkdown(text, hrefFor = defaultHref) {
  const box = h('div', { class: 'markdown' });
  box.innerHTML = DOMPurify.sanitize(marked.parse(text || ''), {
    FORBID_TAGS: ['img', 'style', 'iframe', 'form', 'input', 'svg', 'math'], FORBID_ATTR: ['style'],
  });
  for (const a of box.querySelectorAll('a[href]')) {
    if (!a.getAttribute('href').startsWith('/')) a.setAttribute('rel', 'noopener noreferrer');
  }
  return linkCitations(box, hrefFor);
}
