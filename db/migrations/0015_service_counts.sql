-- Per-service minute rollups (issue 18): all lines and error-or-worse lines per (minute,
-- service), written at ingest beside template_counts in the same transaction, so the
-- per-service rates (GET /stats/services, the web UI's overview, the detectors' minute
-- series) read one row per service and minute instead of every (service, host, template,
-- level) row of template_counts.
CREATE TABLE IF NOT EXISTS service_counts (
    bucket      DATETIME NOT NULL,
    service     VARCHAR(128) NOT NULL,
    count       INT UNSIGNED NOT NULL,
    errors      INT UNSIGNED NOT NULL,
    PRIMARY KEY (bucket, service)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- what is stored already, from template_counts (rerun-safe: its sums replace a partial row;
-- ENUM position 5 is `error`, db/levels.py)
INSERT INTO service_counts (bucket, service, count, errors)
SELECT bucket, service, SUM(count), SUM(IF(level + 0 >= 5, count, 0)) FROM template_counts GROUP BY bucket, service
ON DUPLICATE KEY UPDATE count = VALUES(count), errors = VALUES(errors);
