-- The inventory in force for every server process: the document last loaded (by a server
-- from its file at start or on POST /graph/reload, or by `devmesh load-inventory PATH`).
-- Servers poll `generation` and switch to a newer document, so the CLI and every server
-- agree on one inventory.
CREATE TABLE IF NOT EXISTS inventory_current (
    id            TINYINT UNSIGNED NOT NULL PRIMARY KEY,      -- always 1
    generation    BIGINT UNSIGNED NOT NULL,
    content_hash  CHAR(64) NOT NULL,
    source        VARCHAR(1024) NOT NULL,
    body          MEDIUMTEXT NOT NULL,
    loaded_at     DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
