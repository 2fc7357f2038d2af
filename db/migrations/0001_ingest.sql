-- The ingest tables (DESIGN section 2). Every statement is idempotent so that a migration
-- interrupted half way (MariaDB DDL is not transactional) can simply run again.

CREATE TABLE IF NOT EXISTS log_templates (
    id            BIGINT UNSIGNED NOT NULL PRIMARY KEY,  -- derived from canon_hash: same everywhere
    canon_hash    BINARY(16) NOT NULL,
    template      TEXT NOT NULL,
    level         ENUM('debug','info','notice','warning','error','critical','alert','emergency') NOT NULL,
    first_seen    DATETIME(6) NOT NULL,
    last_seen     DATETIME(6) NOT NULL,
    total_count   BIGINT UNSIGNED NOT NULL DEFAULT 0,
    canon_version SMALLINT UNSIGNED NOT NULL,
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_canon_hash (canon_hash),
    KEY ix_last_seen (last_seen)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS log_events (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    log_hash    BINARY(16) NOT NULL,
    ts          DATETIME(6) NOT NULL,
    host        VARCHAR(128) NOT NULL,
    service     VARCHAR(128) NOT NULL,
    source      VARCHAR(64) NOT NULL DEFAULT '',
    level       ENUM('debug','info','notice','warning','error','critical','alert','emergency') NOT NULL,
    message     TEXT NOT NULL,
    trace_id    VARCHAR(64) NULL,
    span_id     VARCHAR(32) NULL,
    event_type  VARCHAR(64) NULL,
    error_code  VARCHAR(64) NULL,
    meta_json   JSON NULL,
    template_id BIGINT UNSIGNED NOT NULL,
    ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_log_hash (log_hash),
    KEY ix_ts (ts),
    KEY ix_service_ts (service, ts),
    KEY ix_host_ts (host, ts),
    KEY ix_template_ts (template_id, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- minute rollups: what detectors, stats and "what changed" read instead of raw events
CREATE TABLE IF NOT EXISTS template_counts (
    bucket      DATETIME NOT NULL,
    service     VARCHAR(128) NOT NULL,
    host        VARCHAR(128) NOT NULL,
    template_id BIGINT UNSIGNED NOT NULL,
    level       ENUM('debug','info','notice','warning','error','critical','alert','emergency') NOT NULL,
    count       INT UNSIGNED NOT NULL,
    PRIMARY KEY (bucket, service, host, template_id, level),
    KEY ix_template_bucket (template_id, bucket),
    KEY ix_service_bucket (service, bucket)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- one vectors table per embedding model (a VECTOR column has one dimension); this registry
-- says which table holds which model. The tables themselves: db/embeddings.py.
CREATE TABLE IF NOT EXISTS embedding_models (
    id         INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(255) NOT NULL,
    dim        SMALLINT UNSIGNED NOT NULL,
    table_name VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_name_dim (name, dim),
    UNIQUE KEY uq_table (table_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
