-- Alerts from Alertmanager / Grafana: one incident per firing alert, by fingerprint.
CREATE TABLE IF NOT EXISTS alert_links (
    fingerprint VARCHAR(64) NOT NULL PRIMARY KEY,
    incident_id BIGINT UNSIGNED NOT NULL,
    status      ENUM('firing','resolved') NOT NULL,
    alertname   VARCHAR(255) NOT NULL DEFAULT '',
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY ix_incident (incident_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
