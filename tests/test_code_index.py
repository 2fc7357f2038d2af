"""Issue 19, the code index: symbols per version on the real MariaDB, frames mapped to the
version that logged them, re-indexing an unchanged checkout writing nothing, and
GET /code serving only what was indexed."""
from __future__ import annotations

from db import code_index as sql
from ingest.code_index import index_checkout
from ingest.code_parse import parse
from ingest.embedders import HashingEmbedder
from ingest.exceptions import logged_version
from retrieval.code_map import map_frames

V1 = '''"""Orders."""
import json


def parse_order(text):
    """One order from JSON."""
    return json.loads(text)


class Cart:
    def total(self, items):
        return sum(i["price"] for i in items)
'''
# v2: a helper inserted above, so line 6 is now inside `normalize`, not `parse_order`
V2 = '''"""Orders."""
import json


def normalize(text):
    return text.strip()


def parse_order(text):
    """One order from JSON."""
    return json.loads(normalize(text))
'''
JS = '''// Notifications.
function render(channel, msg) {
  return CHANNELS[channel](msg);
}
class Sender { send(m) { return render("email", m); } }
const build = (user) => ({ to: user.contact });
'''


def _snapshot(db):
    return [db.fetchall(f"SELECT * FROM {t} ORDER BY 1, 2") for t in ("code_versions", "code_files")] + [
        db.fetchall("SELECT id, content_hash, qualname, start_line FROM code_symbols ORDER BY id"),
        db.fetchall("SELECT content_hash, created_at FROM code_blobs ORDER BY 1")]


def _checkout(root, orders: str):
    (root / "shop").mkdir(parents=True, exist_ok=True)
    (root / "shop" / "orders.py").write_text(orders)
    (root / "web").mkdir(exist_ok=True)
    (root / "web" / "notify.js").write_text(JS)
    (root / "node_modules" / "lib").mkdir(parents=True, exist_ok=True)
    (root / "node_modules" / "lib" / "x.js").write_text("function vendored() {}\n")
    (root / "README.txt").write_text("not code\n")


def test_versions_reindex_frame_mapping_and_snippets(client, tmp_path):
    db, embedder = client.app.state.db, HashingEmbedder(64)
    _checkout(tmp_path / "v1", V1)
    first = index_checkout(db, embedder, tmp_path / "v1", "shop", "v1")
    assert (first.files, first.added, first.parsed) == (2, 2, 2)       # node_modules and README.txt skipped
    assert first.symbols == first.embedded == 7                         # 3 Python + 4 JavaScript

    before = _snapshot(db)
    again = index_checkout(db, embedder, tmp_path / "v1", "shop", "v1")
    assert (again.added, again.changed, again.removed, again.parsed, again.embedded) == (0, 0, 0, 0, 0)
    assert again.unchanged == 2 and _snapshot(db) == before           # not even indexed_at moved

    _checkout(tmp_path / "v2", V2)
    second = index_checkout(db, embedder, tmp_path / "v2", "shop", "v2")
    assert (second.added, second.parsed) == (2, 1)                      # notify.js's content was already held
    assert second.embedded == 2                                         # only the new file's symbols

    symbols = {s["qualname"]: s for s in sql.symbols(db, sql.version_row(db, "shop", "v1")[0])}
    assert symbols["parse_order"]["docstring"] == "One order from JSON."
    assert symbols["parse_order"]["calls"] == ["json.loads"]
    assert symbols["Cart.total"]["kind"] == "method" and symbols["Cart.total"]["signature"] == "def total(self, items)"
    assert symbols["Sender.send"]["calls"] == ["render"] and symbols["build"]["kind"] == "function"

    frame = {"file": "/srv/shop/releases/42/shop/orders.py", "function": "parse_order", "line": 6}
    at_v1 = map_frames(db, "shop", logged_version({"version": "v1"}), [frame])
    at_v2 = map_frames(db, "shop", logged_version({"commit": "v2"}), [frame])
    newest = map_frames(db, "shop", None, [frame])
    assert at_v1["exact"] and at_v1["frames"][0]["path"] == "shop/orders.py"
    assert at_v1["frames"][0]["symbol"]["qualname"] == "parse_order"    # the code that ran
    assert at_v2["frames"][0]["symbol"]["qualname"] == "normalize" == newest["frames"][0]["symbol"]["qualname"]
    unknown = map_frames(db, "shop", "v9", [frame])
    assert not unknown["exact"] and unknown["version"] == "v2"          # an unindexed version says so
    assert map_frames(db, "other", "v1", [frame])["frames"][0]["symbol"] is None

    (tmp_path / "v1" / "shop" / "orders.py").unlink()                   # a file that left the checkout
    gone = index_checkout(db, embedder, tmp_path / "v1", "shop", "v1")
    assert gone.removed == 1 and map_frames(db, "shop", "v1", [frame])["frames"][0]["path"] is None
    _snippets(client, tmp_path)


def test_parse_survives_bad_files():
    assert parse("a.py", "def broken(:\n") == [] and parse("a.rb", "def x; end") == []
    assert [s.qualname for s in parse("a.py", "def f():\n    def g():\n        pass\n")] == ["f", "f.<locals>.g"]


def _snippets(client, tmp_path):
    """GET /code serves only what was indexed (v1 of shop, whose orders.py left the checkout, is
    indexed again: the snippet is the stored file)."""
    _checkout(tmp_path / "v1", V1)
    index_checkout(client.app.state.db, client.app.state.embedder, tmp_path / "v1", "shop", "v1")
    ok = client.get("/code/shop/shop/orders.py", params={"line": 6, "context": 2, "version": "v1"})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert [line["n"] for line in body["lines"]] == [4, 5, 6, 7, 8]
    assert body["lines"][2]["text"] == '    """One order from JSON."""' and body["symbol"]["qualname"] == "parse_order"
    assert body["version"] == "v1"
    assert client.get("/code/shop/shop/orders.py", params={"line": 6}).json()["version"] == "v1"   # newest indexed
    for bad in ("/code/shop/shop/%2e%2e/%2e%2e/etc/passwd", "/code/shop/%2Fetc%2Fpasswd",
                "/code/shop/shop//orders.py"):
        r = client.get(bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_path", (bad, r.text)
    for missing in ("/code/shop/README.txt", "/code/shop/node_modules/lib/x.js", "/code/nobody/shop/orders.py"):
        r = client.get(missing)                               # on disk, but never indexed: not served
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_indexed", (missing, r.text)
    assert client.get("/code/shop/shop/orders.py", params={"version": "v0"}).status_code == 404
