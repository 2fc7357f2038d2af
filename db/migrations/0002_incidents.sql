-- Detectors, incidents and investigations (DESIGN section 5).

-- per (detector, service) state: EWMA baselines, last processed minute, cooldowns
CREATE TABLE IF NOT EXISTS detector_state (
    detector   VARCHAR(64) NOT NULL,
    service    VARCHAR(128) NOT NULL,
    state_json JSON NOT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (detector, service)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS incidents (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title          VARCHAR(255) NOT NULL,
    `trigger`      VARCHAR(64) NOT NULL,            -- the first detector, or manual / alert
    severity       ENUM('info','warning','error','critical') NOT NULL,
    service        VARCHAR(128) NULL,               -- NULL: the whole fleet
    host           VARCHAR(128) NULL,
    services_json  JSON NOT NULL,                   -- every service the merged signals touched
    window_start   DATETIME NOT NULL,
    window_end     DATETIME NOT NULL,
    status         ENUM('open','investigating','reported','closed') NOT NULL DEFAULT 'open',
    context_json   JSON NULL,                       -- what the investigation packed
    opened_at      DATETIME(6) NOT NULL,            -- detector clock (replays set it)
    updated_at     DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    claimed_by     VARCHAR(128) NULL,
    claimed_at     DATETIME(6) NULL,
    attempts       INT UNSIGNED NOT NULL DEFAULT 0,
    last_error     TEXT NULL,
    KEY ix_status (status, claimed_at),
    KEY ix_service_opened (service, opened_at),
    KEY ix_opened (opened_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- each detector firing folded into an incident
CREATE TABLE IF NOT EXISTS incident_signals (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    incident_id  BIGINT UNSIGNED NOT NULL,
    detector     VARCHAR(64) NOT NULL,
    service      VARCHAR(128) NOT NULL,
    host         VARCHAR(128) NULL,
    severity     ENUM('info','warning','error','critical') NOT NULL,
    at           DATETIME NOT NULL,
    message      VARCHAR(512) NOT NULL,
    template_ids JSON NOT NULL,
    detail_json  JSON NULL,
    KEY ix_incident (incident_id, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS incident_reports (
    id                    BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    incident_id           BIGINT UNSIGNED NOT NULL,
    created_at            DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    root_cause_service    VARCHAR(128) NULL,
    root_cause_host       VARCHAR(128) NULL,
    root_cause_hypothesis TEXT NOT NULL,
    confidence            DOUBLE NOT NULL,
    markdown              MEDIUMTEXT NOT NULL,
    report_json           JSON NOT NULL,
    written_by            VARCHAR(64) NOT NULL DEFAULT 'deterministic',
    KEY ix_incident (incident_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS feedback (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    incident_id        BIGINT UNSIGNED NOT NULL,
    verdict            ENUM('accept','reject','partial') NOT NULL,
    root_cause_service VARCHAR(128) NULL,
    root_cause_host    VARCHAR(128) NULL,
    comment            TEXT NULL,
    created_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_incident (incident_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
