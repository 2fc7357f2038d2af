"""shop-web: the lab's front API (Python, stdlib HTTP server, MariaDB, calls stock-api).

Started by the lab as its own process; imports nothing of DevMesh. Logs one line per step
with the W3C trace id it received from nginx (`traceparent`), in Python's logging format:

    2026-01-20 10:00:00,123 INFO shop_web.http [trace_id=<32 hex> span_id=<16 hex>] received GET /api/products/3
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import random
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mariadb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sql import load as _load_sql  # noqa: E402

SQL = _load_sql()

BIND = os.environ.get("SHOP_BIND", "127.0.1.2")
PORT = int(os.environ.get("SHOP_PORT", "7181"))
STOCK = (os.environ.get("STOCK_HOST", "127.0.1.3"), int(os.environ.get("STOCK_PORT", "7182")))
DB = dict(host=os.environ.get("DB_HOST", "127.0.1.5"), port=int(os.environ.get("DB_PORT", "7136")),
          user="shop", password=os.environ.get("DB_PASSWORD", "shop-lab"), database="shop")
DATA_DIR = os.environ.get("SHOP_DATA_DIR", "/tmp/shop-web")
FLAG = os.environ.get("SHOP_FLAG", "/tmp/shop-web.raise")
SLOW_MS = 1000

_ctx = threading.local()


class _TraceFilter(logging.Filter):
    def filter(self, record):
        record.trace_id = getattr(_ctx, "trace_id", "-")
        record.span_id = getattr(_ctx, "span_id", "-")
        return True


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s [trace_id=%(trace_id)s span_id=%(span_id)s] "
                            "%(message)s")
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    handler.addFilter(_TraceFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


log = logging.getLogger("shop_web.http")
dblog = logging.getLogger("shop_web.db")


def _db():
    conn = getattr(_ctx, "conn", None)
    if conn is not None:
        return conn
    t0 = time.monotonic()
    conn = mariadb.connect(**DB, connect_timeout=3, read_timeout=5, write_timeout=5, autocommit=True)
    dblog.info("opened connection to mariadb %s:%d in %d ms", DB["host"], DB["port"],
               (time.monotonic() - t0) * 1000)
    _ctx.conn = conn
    return conn


def _drop_db():
    conn = getattr(_ctx, "conn", None)
    _ctx.conn = None
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


def query(sql: str, args: tuple = ()):
    t0 = time.monotonic()
    try:
        cur = _db().cursor()
        cur.execute(sql, args)
        rows = cur.fetchall() if cur.description else cur.lastrowid
        cur.close()
    except mariadb.Error:
        _drop_db()
        raise
    ms = (time.monotonic() - t0) * 1000
    if ms > SLOW_MS:
        dblog.warning("slow query took %d ms: %s", ms, sql.split()[0])
    return rows, ms


class UpstreamError(Exception):
    pass


def call_stock(method: str, path: str, body: dict | None = None):
    span = secrets.token_hex(8)
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(*STOCK, timeout=3)
    try:
        conn.request(method, path, body=json.dumps(body) if body else None,
                     headers={"traceparent": f"00-{_ctx.trace_id}-{span}-01", "Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        ms = (time.monotonic() - t0) * 1000
        log.error("call to stock-api %s %s failed after %d ms: %s", method, path, ms, exc or type(exc).__name__)
        raise UpstreamError(f"stock-api unavailable: {exc or type(exc).__name__}") from None
    finally:
        conn.close()
    ms = (time.monotonic() - t0) * 1000
    if resp.status >= 500:
        log.error("stock-api %s %s returned %d in %d ms", method, path, resp.status, ms)
        raise UpstreamError(f"stock-api returned {resp.status}")
    log.info("called stock-api %s %s -> %d in %d ms", method, path, resp.status, ms)
    return resp.status, json.loads(data or b"{}")


def price_with_tax(product: dict) -> dict:
    if os.path.exists(FLAG):          # the lab's "bad deploy": a code path that raises
        rates = {"EUR": 0.2}
        product["tax"] = round(product["price"] * rates[product.get("currency", "USD")], 2)
    else:
        product["tax"] = round(product["price"] * 0.2, 2)
    return product


def get_product(pid: int):
    rows, ms = query(SQL["product_by_id"], (pid,))
    if not rows:
        return 404, {"error": "no such product"}
    _, stock = call_stock("GET", f"/stock/{pid}")
    prod = {"id": rows[0][0], "name": rows[0][1], "price": float(rows[0][2]), "stock": stock.get("available")}
    return 200, price_with_tax(prod)


def create_order(body: dict):
    pid, qty = int(body.get("product_id", 1)), int(body.get("qty", 1))
    status, res = call_stock("POST", "/reserve", {"product_id": pid, "qty": qty})
    if status == 409:
        log.warning("order rejected: product %d out of stock", pid)
        return 409, {"error": "out of stock"}
    oid, ms = query(SQL["insert_order"], (pid, qty, _ctx.trace_id))
    log.info("order %d stored in %d ms", oid, ms)
    with open(os.path.join(DATA_DIR, f"invoice-{oid}.json"), "w") as fh:
        fh.write(json.dumps({"order": oid, "product": pid, "qty": qty, "trace": _ctx.trace_id}) + "\n" * 64)
    return 201, {"order_id": oid}


def get_order(oid: int):
    rows, _ = query(SQL["order_by_id"], (oid,))
    if not rows:
        return 404, {"error": "no such order"}
    return 200, {"id": rows[0][0], "product_id": rows[0][1], "qty": rows[0][2], "status": rows[0][3]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "shop-web/1.4"

    def log_message(self, format, *args):   # the stdlib's access line: ours is "done in"
        pass

    def _trace(self):
        tp = self.headers.get("traceparent", "")
        parts = tp.split("-")
        _ctx.trace_id = parts[1] if len(parts) == 4 and len(parts[1]) == 32 else secrets.token_hex(16)
        _ctx.span_id = secrets.token_hex(8)

    def _serve(self, method):
        if self.path == "/healthz":
            return self._send(200, {"ok": True})
        self._trace()
        t0 = time.monotonic()
        log.info("received %s %s", method, self.path)
        try:
            parts = self.path.strip("/").split("/")
            if method == "GET" and parts[:2] == ["api", "products"] and len(parts) == 3:
                status, body = get_product(int(parts[2]))
            elif method == "GET" and parts[:2] == ["api", "orders"] and len(parts) == 3:
                status, body = get_order(int(parts[2]))
            elif method == "POST" and parts == ["api", "orders"]:
                n = int(self.headers.get("Content-Length") or 0)
                status, body = create_order(json.loads(self.rfile.read(n) or b"{}"))
            else:
                status, body = 404, {"error": "not found"}
        except UpstreamError as exc:
            status, body = 502, {"error": str(exc)}
        except mariadb.Error as exc:
            log.error("database error on %s %s: %s", method, self.path, exc)
            status, body = 503, {"error": "database unavailable"}
        except OSError as exc:
            log.error("could not write invoice for %s %s: %s", method, self.path, exc)
            status, body = 500, {"error": "internal error"}
        except Exception:
            log.exception("unhandled error on %s %s", method, self.path)
            status, body = 500, {"error": "internal error"}
        ms = (time.monotonic() - t0) * 1000
        if status >= 500:
            log.error("%s %s failed with %d in %d ms", method, self.path, status, ms)
        elif ms > SLOW_MS:
            log.warning("slow request %s %s -> %d in %d ms", method, self.path, status, ms)
        else:
            log.info("done %s %s -> %d in %d ms", method, self.path, status, ms)
        self._send(status, body)
        _ctx.trace_id = _ctx.span_id = "-"

    def _send(self, status, body):
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError as exc:
            log.warning("client went away before the response was sent: %s", exc)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")


def main():
    _setup_logging()
    os.makedirs(DATA_DIR, exist_ok=True)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((BIND, PORT), Handler)

    def _stop(signum, frame):
        logging.getLogger("shop_web").info("received %s, shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    logging.getLogger("shop_web").info("shop-web 1.4.2 listening on http://%s:%d (pid %d, workers: threads)",
                                       BIND, PORT, os.getpid())
    random.seed()
    server.serve_forever(poll_interval=0.5)
    logging.getLogger("shop_web").info("stopped")


if __name__ == "__main__":
    main()
