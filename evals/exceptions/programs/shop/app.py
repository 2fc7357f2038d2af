"""A WSGI shop: GET /order?sku=..&qty=.. reserves stock."""
import logging
import sys
from urllib.parse import parse_qs

log = logging.getLogger("shop")
STOCK = {"apple": 10, "pear": 4}


def reserve_stock(sku, qty):
    if qty > STOCK[sku]:
        raise ValueError(f"not enough {sku}")
    STOCK[sku] -= qty
    return STOCK[sku]


def handle_order(params):
    sku = params.get("sku", [""])[0]
    qty = params.get("quantity", [None])[0]
    left = reserve_stock(sku, qty)
    return f"reserved {sku}, {left} left"


def app(environ, start_response):
    path = environ["PATH_INFO"]
    params = parse_qs(environ.get("QUERY_STRING", ""))
    log.info("request method=%s path=%s query=%s", environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING"))
    if path == "/order":
        body = handle_order(params)
    else:
        body = "not found"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/order", "QUERY_STRING": sys.argv[1]}
    print(app(environ, lambda status, headers: None))
