-- Code index (issue 19): the symbols of a service's checkout at each indexed version, so a
-- stack frame maps to the code that actually ran. A file's text is stored once per content
-- hash (`code_blobs`) and its symbols hang off that hash, so a version whose file did not
-- change shares the rows, and re-indexing an unchanged checkout writes nothing.
-- Vectors of each symbol's code live apart, one table per embedding model
-- (`code_embeddings_<n>`, n = the model's id in embedding_models), made on first use.

CREATE TABLE IF NOT EXISTS code_versions (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    service     VARCHAR(128) NOT NULL,
    version     VARCHAR(128) NOT NULL,          -- what log meta says (`version` / `commit`)
    root        VARCHAR(1024) NOT NULL,         -- where it was indexed from (information only)
    indexed_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_service_version (service, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS code_blobs (
    content_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    language     VARCHAR(32) NOT NULL,
    content      MEDIUMTEXT NOT NULL,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- which path held which content at a version
CREATE TABLE IF NOT EXISTS code_files (
    version_id   BIGINT UNSIGNED NOT NULL,
    path         VARCHAR(512) NOT NULL,
    content_hash CHAR(64) CHARACTER SET ascii NOT NULL,
    PRIMARY KEY (version_id, path),
    KEY ix_hash (content_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS code_symbols (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    content_hash CHAR(64) CHARACTER SET ascii NOT NULL,   -- the blob it was parsed from
    qualname     VARCHAR(512) NOT NULL,
    kind         VARCHAR(16) NOT NULL,                    -- function | method | class
    start_line   INT UNSIGNED NOT NULL,
    end_line     INT UNSIGNED NOT NULL,
    signature    VARCHAR(1024) NOT NULL,
    docstring    TEXT NULL,
    calls_json   JSON NOT NULL,
    UNIQUE KEY uq_symbol (content_hash, qualname(200), start_line)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- an RCA is computed once per (cluster, version) and kept
CREATE TABLE IF NOT EXISTS rca_results (
    cluster_id   BIGINT UNSIGNED NOT NULL,
    version      VARCHAR(128) NOT NULL,
    rca_json     JSON NOT NULL,
    written_by   VARCHAR(64) NOT NULL,                    -- deterministic | the LLM's name
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (cluster_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
