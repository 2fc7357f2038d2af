-- Exception clusters (issue 19): a stack trace joined at ingest (ingest/multiline.py) is
-- parsed into frames (ingest/stacktrace.py) and grouped by a static fingerprint, per service:
-- the exception type plus the in-app frames' module/file and function (all frames when none is
-- in-app), never line numbers or messages. An exception event links to its cluster
-- (`exception_events`) and keeps its parsed frames (`exception_frames`), so frames map to the
-- code at the version that logged them (meta version/commit, kept on the link row).

CREATE TABLE IF NOT EXISTS exception_clusters (
    id                      BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    service                 VARCHAR(128) NOT NULL,
    fingerprint             CHAR(32) CHARACTER SET ascii NOT NULL,   -- hex BLAKE2b-128
    exception_type          VARCHAR(255) NOT NULL,
    message_template        TEXT NOT NULL,                           -- canonicalized exception line
    first_seen              DATETIME(6) NOT NULL,
    last_seen               DATETIME(6) NOT NULL,
    total_count             BIGINT UNSIGNED NOT NULL DEFAULT 0,
    status                  ENUM('new','regressed','resolved') NOT NULL DEFAULT 'new',
    status_changed_at       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    resolved_at             DATETIME(6) NULL,
    regressed_at            DATETIME(6) NULL,
    representative_event_id BIGINT UNSIGNED NOT NULL,                -- log_events.id, the first seen
    created_at              DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_service_fingerprint (service, fingerprint),
    KEY ix_last_seen (last_seen),
    KEY ix_status_last_seen (status, last_seen),
    KEY ix_count (total_count)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- per-minute counts of each cluster (new events only, like template_counts)
CREATE TABLE IF NOT EXISTS exception_cluster_counts (
    cluster_id BIGINT UNSIGNED NOT NULL,
    bucket     DATETIME NOT NULL,
    count      INT UNSIGNED NOT NULL,
    PRIMARY KEY (cluster_id, bucket),
    KEY ix_bucket (bucket)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- one row per exception event: which cluster, and what it said
CREATE TABLE IF NOT EXISTS exception_events (
    event_id       BIGINT UNSIGNED NOT NULL PRIMARY KEY,           -- log_events.id
    cluster_id     BIGINT UNSIGNED NOT NULL,
    ts             DATETIME(6) NOT NULL,
    host           VARCHAR(128) NOT NULL,
    version        VARCHAR(128) NULL,                              -- meta version/commit, as logged
    exception_type VARCHAR(255) NOT NULL,
    message        TEXT NOT NULL,                                  -- the exception line's message
    KEY ix_cluster_ts (cluster_id, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- the parsed frames of each exception event. section: the exception's place in a chain as
-- printed (0 = first printed; Python prints the cause first, Java the top-level exception
-- first); position: 0 = the innermost frame (where it was raised) of that section.
CREATE TABLE IF NOT EXISTS exception_frames (
    event_id       BIGINT UNSIGNED NOT NULL,
    section        SMALLINT UNSIGNED NOT NULL,
    position       SMALLINT UNSIGNED NOT NULL,
    section_type   VARCHAR(255) NOT NULL,                          -- that section's exception type
    file           VARCHAR(1024) NOT NULL,
    function       VARCHAR(512) NOT NULL,
    line           INT UNSIGNED NULL,
    module         VARCHAR(512) NOT NULL DEFAULT '',
    in_app         BOOLEAN NOT NULL,
    PRIMARY KEY (event_id, section, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS exception_feedback (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    cluster_id BIGINT UNSIGNED NOT NULL,
    verdict    ENUM('accept','reject','partially_correct') NOT NULL,
    notes      TEXT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_cluster (cluster_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
