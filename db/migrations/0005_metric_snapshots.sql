-- Summaries of Prometheus series around an incident, as evidence for its investigation.
CREATE TABLE IF NOT EXISTS metric_snapshots (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    incident_id  BIGINT UNSIGNED NOT NULL,
    service      VARCHAR(128) NOT NULL,
    name         VARCHAR(128) NOT NULL,
    query        TEXT NOT NULL,
    window_start DATETIME NOT NULL,
    window_end   DATETIME NOT NULL,
    points       INT UNSIGNED NOT NULL,
    min_value    DOUBLE NULL,
    max_value    DOUBLE NULL,
    mean_value   DOUBLE NULL,
    prev_mean    DOUBLE NULL,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_incident (incident_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
