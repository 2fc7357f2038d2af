"""SQL for chat threads."""
from __future__ import annotations

import json

from db.pool import Database


def add_turn(db: Database, thread_id: str, question: str, route: str, entities: dict, answer: str) -> None:
    with db.transaction() as cur:
        cur.execute("INSERT INTO chat_turns (thread_id, question, route, entities_json, answer) VALUES (?, ?, ?, ?, ?)",
                    (thread_id, question, route, json.dumps(entities, default=str), answer))


def thread(db: Database, thread_id: str, limit: int = 50) -> list[dict]:
    rows = db.fetchall("SELECT question, route, answer, created_at FROM chat_turns WHERE thread_id = ? "
                       "ORDER BY id LIMIT ?", (thread_id, limit))
    return [{"question": q, "route": r, "answer": a, "at": t.isoformat() + "Z"} for q, r, a, t in rows]
