// stock-api: the lab's second API (Node, JSON lines in pino's shape, redis over RESP).
// Started by the lab as its own process; no npm packages. Every line carries the trace id
// of the traceparent header it was called with.
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');
const os = require('os');
const crypto = require('crypto');

const BIND = process.env.STOCK_BIND || '127.0.1.3';
const PORT = Number(process.env.STOCK_PORT || 7182);
const REDIS_HOST = process.env.REDIS_HOST || '127.0.1.4';
const REDIS_PORT = Number(process.env.REDIS_PORT || 7179);
const FLAG = process.env.STOCK_FLAG || '/tmp/stock-api.raise';
const HOSTNAME = process.env.LAB_HOSTNAME || os.hostname();
const CMD_TIMEOUT_MS = 1000;

function log(level, fields, msg) {
  const line = Object.assign({level, time: Date.now(), pid: process.pid, hostname: HOSTNAME, name: 'stock-api'},
                             fields, {msg});
  process.stdout.write(JSON.stringify(line) + '\n');
}
const info = (f, m) => log(30, f, m), warn = (f, m) => log(40, f, m), error = (f, m) => log(50, f, m);

// --- a small redis client: one connection, pipelined commands, reconnect with backoff ---
class Redis {
  constructor(host, port) {
    this.host = host; this.port = port; this.queue = []; this.buf = Buffer.alloc(0);
    this.sock = null; this.ready = false; this.backoff = 250; this.connect();
  }
  connect() {
    const sock = net.connect({host: this.host, port: this.port});
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      this.ready = true; this.backoff = 250;
      info({}, `connected to redis ${this.host}:${this.port}`);
    });
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.drain(); });
    sock.on('error', (err) => {
      if (this.ready) error({err: {type: err.code || 'Error', message: err.message}}, `redis connection error: ${err.message}`);
      else error({err: {type: err.code || 'Error', message: err.message}}, `redis connect to ${this.host}:${this.port} failed: ${err.message}`);
    });
    sock.on('close', () => {
      const wasReady = this.ready;
      this.ready = false; this.buf = Buffer.alloc(0);
      for (const p of this.queue.splice(0)) { clearTimeout(p.timer); p.reject(new Error('connection closed')); }
      if (wasReady) warn({}, `redis connection closed, reconnecting in ${this.backoff} ms`);
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 4000);
    });
  }
  parse(buf, i) {            // -> [value, next index] or null when incomplete
    const end = buf.indexOf('\r\n', i);
    if (end < 0) return null;
    const type = String.fromCharCode(buf[i]), head = buf.toString('utf8', i + 1, end);
    if (type === '+') return [head, end + 2];
    if (type === '-') return [new RedisError(head), end + 2];
    if (type === ':') return [Number(head), end + 2];
    if (type === '$') {
      const n = Number(head);
      if (n < 0) return [null, end + 2];
      if (buf.length < end + 2 + n + 2) return null;
      return [buf.toString('utf8', end + 2, end + 2 + n), end + 2 + n + 2];
    }
    if (type === '*') {
      const n = Number(head), out = [];
      let j = end + 2;
      for (let k = 0; k < n; k++) { const r = this.parse(buf, j); if (!r) return null; out.push(r[0]); j = r[1]; }
      return [out, j];
    }
    throw new Error('bad RESP type ' + type);
  }
  drain() {
    while (this.queue.length) {
      const r = this.parse(this.buf, 0);
      if (!r) return;
      this.buf = this.buf.subarray(r[1]);
      const p = this.queue.shift();
      clearTimeout(p.timer);
      if (r[0] instanceof RedisError) p.reject(r[0]); else p.resolve(r[0]);
    }
  }
  cmd(...args) {
    return new Promise((resolve, reject) => {
      if (!this.ready) return reject(new Error(`redis ${this.host}:${this.port} not connected`));
      let wire = `*${args.length}\r\n`;
      for (const a of args) { const s = String(a); wire += `$${Buffer.byteLength(s)}\r\n${s}\r\n`; }
      const p = {resolve, reject};
      p.timer = setTimeout(() => {
        reject(new Error(`redis command ${args[0]} timed out after ${CMD_TIMEOUT_MS} ms`));
        this.sock.destroy();             // a late reply would be matched to the wrong command
      }, CMD_TIMEOUT_MS);
      this.queue.push(p);
      this.sock.write(wire);
    });
  }
}
class RedisError extends Error {}

const redis = new Redis(REDIS_HOST, REDIS_PORT);

async function timed(ctx, what, ...args) {
  const t0 = Date.now();
  const v = await redis.cmd(...args);
  const ms = Date.now() - t0;
  if (ms > 250) warn(ctx, `slow redis ${what} took ${ms} ms`);
  return v;
}

async function getStock(ctx, id) {
  let v = await timed(ctx, 'GET', 'GET', `stock:${id}`);
  if (v === null) {
    await timed(ctx, 'SET', 'SET', `stock:${id}`, 500);
    info(ctx, `stock:${id} not cached, initialised to 500`);
    v = 500;
  }
  return {product_id: id, available: Number(v)};
}

async function reserve(ctx, body) {
  const item = fs.existsSync(FLAG) ? body.item : body;   // the lab's bad deploy reads a field that is not sent
  const id = item.product_id, qty = Number(item.qty || 1);
  const left = await timed(ctx, 'DECRBY', 'DECRBY', `stock:${id}`, qty);
  if (left < 0) {
    await timed(ctx, 'INCRBY', 'INCRBY', `stock:${id}`, 500);
    warn(ctx, `stock for product ${id} ran out, restocked 500`);
  }
  const job = JSON.stringify({type: 'fulfil', product_id: id, qty, trace_id: ctx.trace_id, at: Date.now()});
  const depth = await timed(ctx, 'LPUSH', 'LPUSH', 'jobs:fulfil', job);
  info(ctx, `queued fulfil job for product ${id}, queue depth ${depth}`);
  return {reserved: qty, left};
}

function traceOf(req) {
  const parts = (req.headers['traceparent'] || '').split('-');
  const trace_id = parts.length === 4 && parts[1].length === 32 ? parts[1] : crypto.randomBytes(16).toString('hex');
  return {trace_id, span_id: crypto.randomBytes(8).toString('hex')};
}

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200); return res.end('ok'); }
  const ctx = traceOf(req), t0 = Date.now();
  let raw = '';
  req.on('data', (c) => { raw += c; });
  req.on('end', async () => {
    info(ctx, `request received ${req.method} ${req.url}`);
    let status = 200, out;
    try {
      const m = req.url.match(/^\/stock\/(\d+)$/);
      if (req.method === 'GET' && m) out = await getStock(ctx, Number(m[1]));
      else if (req.method === 'POST' && req.url === '/reserve') out = await reserve(ctx, JSON.parse(raw || '{}'));
      else { status = 404; out = {error: 'not found'}; }
    } catch (err) {
      if (err instanceof RedisError || /redis/.test(err.message)) {
        status = 503;
        error(Object.assign({}, ctx, {err: {type: err.constructor.name, message: err.message}}),
              `redis error on ${req.method} ${req.url}: ${err.message}`);
      } else {
        status = 500;
        error(Object.assign({}, ctx, {err: {type: err.constructor.name, message: err.message, stack: err.stack}}),
              `unhandled ${err.constructor.name} on ${req.method} ${req.url}: ${err.message}`);
      }
      out = {error: err.message};
    }
    const ms = Date.now() - t0;
    const f = Object.assign({}, ctx, {status, duration_ms: ms});
    if (status >= 500) error(f, `request failed ${req.method} ${req.url} ${status} in ${ms} ms`);
    else info(f, `request completed ${req.method} ${req.url} ${status} in ${ms} ms`);
    const data = JSON.stringify(out);
    res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data)});
    res.end(data);
  });
});
server.keepAliveTimeout = 5000;
server.listen(PORT, BIND, () => info({}, `stock-api 2.3.0 listening on ${BIND}:${PORT} (node ${process.version})`));
process.on('SIGTERM', () => {
  info({}, 'SIGTERM received, closing server');
  server.close(() => { info({}, 'server closed'); process.exit(0); });
  setTimeout(() => process.exit(0), 2000).unref();
});
