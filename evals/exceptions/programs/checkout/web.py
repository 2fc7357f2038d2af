"""A tiny Flask-like router: handlers registered by decorator, a request object with a form."""
import logging
import sys
from decimal import Decimal

log = logging.getLogger("checkout")


class Request:
    def __init__(self, path, form):
        self.path = path
        self.form = form


class App:
    def __init__(self):
        self.routes = {}

    def route(self, path):
        def register(fn):
            self.routes[path] = fn
            return fn
        return register

    def dispatch(self, request):
        log.info("dispatch path=%s", request.path)
        return self.routes[request.path](request)


app = App()


def charge(card, amount):
    cents = Decimal(amount) * 100
    return f"charged {card[-4:]} {cents}"


@app.route("/checkout")
def checkout(request):
    card = request.form["card"]
    log.info("checkout card_last4=%s amount=%s", card[-4:], request.form["amount"])
    return charge(card, request.form["amount"])


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    form = dict(arg.split("=", 1) for arg in sys.argv[1:])
    print(app.dispatch(Request("/checkout", form)))
