-- LangGraph checkpoints of the chat graph (db/checkpoint.py): a thread's graph state
-- survives restarts and is shared by every server process on the database.
CREATE TABLE IF NOT EXISTS lg_checkpoints (
    thread_id     VARCHAR(64) NOT NULL,
    checkpoint_ns VARCHAR(191) NOT NULL DEFAULT '',
    checkpoint_id VARCHAR(64) NOT NULL,
    parent_id     VARCHAR(64) NULL,
    type          VARCHAR(32) NOT NULL,
    checkpoint    LONGBLOB NOT NULL,
    metadata_type VARCHAR(32) NOT NULL,
    metadata      LONGBLOB NOT NULL,
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS lg_writes (
    thread_id     VARCHAR(64) NOT NULL,
    checkpoint_ns VARCHAR(191) NOT NULL DEFAULT '',
    checkpoint_id VARCHAR(64) NOT NULL,
    task_id       VARCHAR(64) NOT NULL,
    idx           INT NOT NULL,
    channel       VARCHAR(191) NOT NULL,
    type          VARCHAR(32) NOT NULL,
    value         LONGBLOB NOT NULL,
    task_path     VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
