-- Memory (issue 21): runbook documents chunked by heading, and what past incidents found.
-- Vectors live apart, one table per embedding model as for templates (a VECTOR column has
-- one dimension): `runbook_embeddings_<n>` and `incident_embeddings_<n>`, where n is the
-- model's id in embedding_models; db/memory_vectors.py creates them on first use.

-- one row per runbook file; `content_hash` is the whole file's, so an unchanged file is
-- skipped; `gone_at` marks a file that left the directory (its sections go with it)
CREATE TABLE IF NOT EXISTS runbook_documents (
    id            VARCHAR(128) NOT NULL PRIMARY KEY,
    title         VARCHAR(512) NOT NULL,
    path          VARCHAR(1024) NOT NULL,
    format        ENUM('markdown','text','rst') NOT NULL,
    content_hash  CHAR(64) NOT NULL,
    meta_json     JSON NOT NULL,                 -- front matter: services, templates, detectors
    version       INT UNSIGNED NOT NULL DEFAULT 1,
    ingested_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    gone_at       DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- a section is what a heading starts; `section` is its slug (the `#part` of [runbook:id#part])
CREATE TABLE IF NOT EXISTS runbook_sections (
    runbook_id    VARCHAR(128) NOT NULL,
    section       VARCHAR(128) NOT NULL,
    position      SMALLINT UNSIGNED NOT NULL,
    heading       VARCHAR(512) NOT NULL,
    body          MEDIUMTEXT NOT NULL,
    content_hash  CHAR(64) NOT NULL,
    version       INT UNSIGNED NOT NULL DEFAULT 1,
    updated_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    gone_at       DATETIME(6) NULL,
    PRIMARY KEY (runbook_id, section)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- what an investigation concluded, kept to find it again: the text embedded, its templates,
-- services and root cause (rewritten by each report)
CREATE TABLE IF NOT EXISTS incident_memory (
    incident_id        BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    text               TEXT NOT NULL,
    template_ids_json  JSON NOT NULL,
    services_json      JSON NOT NULL,
    root_cause_service VARCHAR(128) NULL,
    root_cause_host    VARCHAR(128) NULL,
    updated_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
