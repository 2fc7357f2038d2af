"""A durable LangGraph checkpointer on MariaDB (`lg_checkpoints`, `lg_writes`).

Chosen over LangGraph's SQLite and Postgres savers because DevMesh keeps all its state in
the one MariaDB: a thread asked on one server process continues on another, survives
restarts, and is backed up with everything else. Each checkpoint is stored whole (channel
values included, serialized by the saver's serde): chat state is small, and a read is one
row. Async methods run the sync ones in a thread.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (WRITES_IDX_MAP, BaseCheckpointSaver, ChannelVersions, Checkpoint,
                                       CheckpointMetadata, CheckpointTuple, get_checkpoint_id,
                                       get_checkpoint_metadata)

from db.pool import Database

_COLUMNS = "thread_id, checkpoint_ns, checkpoint_id, parent_id, type, checkpoint, metadata_type, metadata"


class MariaDBSaver(BaseCheckpointSaver[str]):
    def __init__(self, db: Database):
        super().__init__()
        self.db = db

    # --- reads ---

    def _tuple(self, row: tuple) -> CheckpointTuple:
        thread_id, ns, checkpoint_id, parent_id, ctype, blob, mtype, mblob = row
        writes = self.db.fetchall(
            "SELECT task_id, channel, type, value FROM lg_writes WHERE thread_id = ? AND checkpoint_ns = ? "
            "AND checkpoint_id = ? ORDER BY task_path, task_id, idx", (thread_id, ns, checkpoint_id))
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}
        parent = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent_id}} \
            if parent_id else None
        return CheckpointTuple(config, self.serde.loads_typed((ctype, bytes(blob))),
                               self.serde.loads_typed((mtype, bytes(mblob))), parent,
                               [(task, channel, self.serde.loads_typed((t, bytes(v)))) for task, channel, t, v in writes])

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        c = config["configurable"]
        params = [c["thread_id"], c.get("checkpoint_ns", "")]
        if checkpoint_id := get_checkpoint_id(config):
            row = self.db.fetchone(f"SELECT {_COLUMNS} FROM lg_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                                   "AND checkpoint_id = ?", (*params, checkpoint_id))
        else:
            row = self.db.fetchone(f"SELECT {_COLUMNS} FROM lg_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                                   "ORDER BY checkpoint_id DESC LIMIT 1", params)
        return self._tuple(row) if row else None

    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None, limit: int | None = None) -> Iterator[CheckpointTuple]:
        clauses, params = [], []
        if config:
            clauses.append("thread_id = ?")
            params.append(config["configurable"]["thread_id"])
            if "checkpoint_ns" in config["configurable"]:
                clauses.append("checkpoint_ns = ?")
                params.append(config["configurable"]["checkpoint_ns"])
            if checkpoint_id := get_checkpoint_id(config):
                clauses.append("checkpoint_id = ?")
                params.append(checkpoint_id)
        if before and (before_id := get_checkpoint_id(before)):
            clauses.append("checkpoint_id < ?")
            params.append(before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.fetchall(f"SELECT {_COLUMNS} FROM lg_checkpoints {where} ORDER BY checkpoint_id DESC", params)
        yielded = 0
        for row in rows:
            found = self._tuple(row)
            if filter and any(found.metadata.get(k) != v for k, v in filter.items()):
                continue
            yield found
            yielded += 1
            if limit is not None and yielded >= limit:
                return

    # --- writes ---

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        c = config["configurable"]
        thread_id, ns = c["thread_id"], c.get("checkpoint_ns", "")
        ctype, blob = self.serde.dumps_typed(checkpoint)
        mtype, mblob = self.serde.dumps_typed(get_checkpoint_metadata(config, metadata))
        with self.db.transaction() as cur:
            cur.execute(f"INSERT INTO lg_checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON DUPLICATE KEY UPDATE checkpoint = VALUES(checkpoint), metadata = VALUES(metadata), "
                        "type = VALUES(type), metadata_type = VALUES(metadata_type)",
                        (thread_id, ns, checkpoint["id"], c.get("checkpoint_id"), ctype, blob, mtype, mblob))
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}}

    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        c = config["configurable"]
        key = (c["thread_id"], c.get("checkpoint_ns", ""), c["checkpoint_id"])
        rows = []
        for idx, (channel, value) in enumerate(writes):
            vtype, blob = self.serde.dumps_typed(value)
            rows.append((*key, task_id, WRITES_IDX_MAP.get(channel, idx), channel, vtype, blob, task_path))
        if not rows:
            return
        # special channels (errors, interrupts) overwrite; regular writes are kept once
        verb = "REPLACE" if all(channel in WRITES_IDX_MAP for channel, _ in writes) else "INSERT IGNORE"
        with self.db.transaction() as cur:
            cur.executemany(f"{verb} INTO lg_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, "
                            "type, value, task_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def delete_thread(self, thread_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM lg_writes WHERE thread_id = ?", (thread_id,))
            cur.execute("DELETE FROM lg_checkpoints WHERE thread_id = ?", (thread_id,))

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        number = 0 if current is None else int(str(current).split(".")[0])
        return f"{number + 1:032}.{random.random():016}"

    # --- async: the sync methods in a worker thread ---

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        for item in await asyncio.to_thread(lambda: list(self.list(config, filter=filter, before=before, limit=limit))):
            yield item

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)
