"""SQL of `inventory_current`: the one inventory document every server process follows."""
from __future__ import annotations

import hashlib

from db.pool import Database


def publish(db: Database, source: str, body: str) -> int:
    """Make `body` the inventory in force; returns its generation. Publishing the document
    already in force changes nothing (the generation stays)."""
    digest = hashlib.sha256(body.encode()).hexdigest()
    with db.transaction() as cur:
        cur.execute("INSERT INTO inventory_current (id, generation, content_hash, source, body) "
                    "VALUES (1, 1, ?, ?, ?) ON DUPLICATE KEY UPDATE "
                    "generation = IF(content_hash = VALUES(content_hash), generation, generation + 1), "
                    "loaded_at = IF(content_hash = VALUES(content_hash), loaded_at, NOW(6)), "
                    "source = VALUES(source), body = VALUES(body), content_hash = VALUES(content_hash)",
                    (digest, source[:1024], body))
        cur.execute("SELECT generation FROM inventory_current WHERE id = 1")
        return int(cur.fetchone()[0])


def generation(db: Database) -> int | None:
    """The generation in force (None before anything was published): one indexed read."""
    row = db.fetchone("SELECT generation FROM inventory_current WHERE id = 1")
    return int(row[0]) if row else None


def current(db: Database) -> dict | None:
    row = db.fetchone("SELECT generation, content_hash, source, body, loaded_at FROM inventory_current WHERE id = 1")
    if row is None:
        return None
    return {"generation": int(row[0]), "hash": row[1], "source": row[2], "body": row[3], "loaded_at": row[4]}
