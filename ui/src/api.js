// The public API, with the token the person typed (kept in this tab's sessionStorage; the
// page itself never carries one). A 401 asks for a token; errors keep the API's message.

const KEY = 'devmesh.token';

export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    Object.assign(this, { status, code, detail });
  }
}

export const token = () => sessionStorage.getItem(KEY) || '';
export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export function url(path, params = {}) {
  const u = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value ?? [])) if (v !== '' && v != null) u.searchParams.append(key, v);
  }
  return u;
}

function headers(extra = {}) {
  const out = { Accept: 'application/json', ...extra };
  if (token()) out.Authorization = `Bearer ${token()}`;
  return out;
}

async function failure(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const e = (body && body.error) || {};
  if (response.status === 401) window.dispatchEvent(new CustomEvent('devmesh:token-needed', { detail: e.message }));
  return new ApiError(response.status, e.code || `http_${response.status}`, e.message || response.statusText, e.detail);
}

export async function api(path, { method = 'GET', params, body, signal } = {}) {
  const response = await fetch(url(path, params), {
    method, signal, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

// POST with a JSON body, read as Server-Sent Events: yields {event, data} as they arrive.
export async function* sse(path, body, signal) {
  const response = await fetch(url(path), {
    method: 'POST', signal, body: JSON.stringify(body),
    headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop();
    for (const block of blocks) {
      let event = 'message';
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (!data.length) continue;              // a keep-alive ping (a comment line)
      let parsed;
      try { parsed = JSON.parse(data.join('\n')); } catch { parsed = data.join('\n'); }
      yield { event, data: parsed };
    }
  }
}
