-- Leases (issue 20): named locks that hold on Galera too. GET_LOCK is local to one MariaDB
-- server and Galera does not replicate it, so the detector cycle also takes a lease row:
-- one row per name, the owner and until when it holds; taken with a conditional UPDATE
-- (free, expired, or already ours), renewed by the holder, released by expiring it.
CREATE TABLE IF NOT EXISTS leases (
    name        VARCHAR(100) NOT NULL PRIMARY KEY,
    owner       VARCHAR(100) NOT NULL,
    expires_at  DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
