-- Chat threads: every turn, so threads survive restarts and follow-ups can use them.
CREATE TABLE IF NOT EXISTS chat_turns (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    thread_id     VARCHAR(64) NOT NULL,
    question      TEXT NOT NULL,
    route         VARCHAR(32) NOT NULL,
    entities_json JSON NOT NULL,
    answer        MEDIUMTEXT NOT NULL,
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_thread (thread_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
