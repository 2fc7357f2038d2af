"""A WSGI user directory: GET /users/<id> renders a user card."""
import logging
import sys

log = logging.getLogger("users")
USERS = {1: {"name": "Ada Lovelace", "email": "ada@example.org"}, 2: {"name": "Plato", "email": None},
         3: {"name": "Grace Hopper", "email": "grace@example.org"}, 4: {"name": "Aristotle", "email": None}}


def format_user(user):
    first = user["name"].split(" ")[0]
    last = user["name"].split(" ")[1]
    return f"{last}, {first}"


def get_user(user_id):
    user = USERS[user_id]
    return format_user(user)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    log.info("request method=GET path=%s", path)
    user_id = int(path.rsplit("/", 1)[1])
    body = get_user(user_id)
    start_response("200 OK", [])
    return [body.encode()]


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    print(app({"PATH_INFO": sys.argv[1]}, lambda s, h: None))
