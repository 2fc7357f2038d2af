"""The semantic fingerprint of an exception cluster: an embedding of its exception type,
message template and top frames (in-app first), stored per model (db/exception_vectors.py)
by a background sweep, so near-duplicate clusters (the same failure reached through another
file or a renamed function) can be listed beside the exact static grouping."""
from __future__ import annotations

from db import exception_vectors as sql
from db.pool import Database
from ingest.embedders import embedding_text


def semantic_text(exception_type: str, template: str, frames: list[tuple[str, str, bool]], top: int = 5) -> str:
    """`Type: template` then up to `top` frames as module.function, in-app ones first."""
    ordered = [f for f in frames if f[2]] + [f for f in frames if not f[2]]
    names = [f"{m}.{fn}" if m else fn for m, fn, _ in ordered[:top]]
    head = template if template.startswith(exception_type) else f"{exception_type}: {template}"
    return embedding_text(head) + ("\n" + " ".join(names) if names else "")


def embed_clusters(db: Database, embedder, limit: int = 256) -> int:
    """Vectors for clusters that have none yet for this embedder; the number embedded."""
    table = sql.vectors_table(db, embedder.name, embedder.dim)
    todo = sql.unembedded(db, table, limit)
    if not todo:
        return 0
    frames = sql.top_frames(db, [rep for _, _, _, rep in todo])
    texts = [semantic_text(t, m, frames.get(rep, [])) for _, t, m, rep in todo]
    vectors = embedder.embed(texts)
    sql.store(db, table, [(cid, vec.astype("float32").tobytes()) for (cid, _, _, _), vec in zip(todo, vectors)])
    return len(todo)
