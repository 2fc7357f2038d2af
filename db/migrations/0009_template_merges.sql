-- Learned templates (ingest/learn.py): a template the learner generalized, and every
-- earlier template it covers. A merged template's events and minute rollups move to the
-- one it maps to; its row stays (old citations resolve, the learner keeps its whole set).
-- `learned` marks rows written by the learner, so it reads only the canon templates.
ALTER TABLE log_templates ADD COLUMN IF NOT EXISTS learned TINYINT(1) NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS template_merges (
    from_id    BIGINT UNSIGNED NOT NULL PRIMARY KEY,   -- a canon or earlier learned template
    to_id      BIGINT UNSIGNED NOT NULL,               -- the learned template that covers it now
    merged_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_to (to_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
