-- Trace ids join events across services: who calls whom, and where errors start.
CREATE INDEX IF NOT EXISTS ix_trace ON log_events (trace_id, ts);
