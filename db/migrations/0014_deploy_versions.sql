-- Versions from deploy lines (issue 19): a service that does not put `version`/`commit` in
-- its log meta still says which version it runs when it starts or is deployed ("Starting
-- ledger version 1.4.2", "deployed commit 9f1c2ab"). The newest such line before an exception
-- names the version that logged it, per (service, host).
CREATE TABLE IF NOT EXISTS deploy_versions (
    service     VARCHAR(128) NOT NULL,
    host        VARCHAR(255) NOT NULL,
    seen_at     DATETIME(6) NOT NULL,
    version     VARCHAR(128) NOT NULL,
    PRIMARY KEY (service, host, seen_at)
) ENGINE=InnoDB;
